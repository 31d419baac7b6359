"""Report figures of StelNet masses and ages (astroflow.stellar), from the stellar stage's saved tables alone:
predicted against true log mass and log age (held-back tracks and each benchmark table), and the posterior draws of
a few benchmark stars with their true values."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from astroflow.errors import InputError
from astroflow.report import style

QUANTITIES = {"log_mass": "log mass (Msun)", "log_age": "log age (yr)"}
BRANCHES = {"pre": "pre-MS", "post": "post-MS"}


def _read(path: str | Path, columns: set[str]) -> pd.DataFrame:
    try:
        table = pd.read_parquet(path)
    except (OSError, ValueError) as err:
        raise InputError(path, f"is not a stellar stage table ({err})") from err
    if not columns <= set(table.columns):
        raise InputError(path, f"lacks the columns {sorted(columns - set(table.columns))}")
    return table


def _versus(ax, table: pd.DataFrame, name: str, title: str) -> None:
    """Posterior median against truth, with the 16-84% interval, and the equality line."""
    truth, mid = table[f"true_{name}"].to_numpy(float), table[f"{name}_p50"].to_numpy(float)
    err = np.abs(np.stack([mid - table[f"{name}_p16"], table[f"{name}_p84"] - mid]))
    ax.errorbar(truth, mid, yerr=err, fmt="o", ms=2, lw=0.5, alpha=0.6)
    ok = np.isfinite(truth) & np.isfinite(mid)
    if ok.any():
        style.identity(ax, min(truth[ok].min(), mid[ok].min()), max(truth[ok].max(), mid[ok].max()))
    ax.set(xlabel=f"true {QUANTITIES[name]}", ylabel=f"predicted {QUANTITIES[name]}",
           title=f"{title} (n = {int(ok.sum())})")


def versus(holdback: str | Path, out_png: str | Path, benchmark_dir: str | Path | None = None):
    """Predicted (posterior median, 16-84% bars) against true log mass and log age: a row per table, the held-back
    pre- and post-main-sequence tracks first, then each benchmark table of ``benchmark_dir`` when scored. Returns
    the figure."""
    columns = {f"{p}{name}{s}" for name in QUANTITIES for p, s in (("true_", ""), ("", "_p16"), ("", "_p50"),
                                                                    ("", "_p84"))}
    held = _read(holdback, columns | {"branch"})
    tables = [(f"held-back {BRANCHES[b]} tracks", held[held["branch"] == b]) for b in BRANCHES]
    if benchmark_dir is not None:
        tables += [(path.stem, _read(path, columns)) for path in sorted(Path(benchmark_dir).glob("*.parquet"))]
    fig, axes = style.figure(len(tables), 2, panel=(3.0, 2.6))
    for (title, table), row in zip(tables, axes):
        for ax, name in zip(row, QUANTITIES):
            _versus(ax, table, name, title)
    style.save(fig, out_png, "StelNet: predicted against true mass and age (dashed: equal)")
    return fig


def posterior_examples(examples: str | Path, out_png: str | Path):
    """The posterior draws of the example stars in the (log mass, log age) plane, a panel per benchmark table, a
    colour per star, its true values marked by a cross of the same colour (a line where only one is known).
    Returns the figure."""
    draws = _read(examples, {"table", "star", "log_mass", "log_age", "true_log_mass", "true_log_age"})
    if draws.empty:
        raise InputError(examples, "holds no posterior draws")
    tables = list(draws.groupby("table", sort=False))
    rows, cols = style.grid_shape(len(tables), 3)
    fig, axes = style.figure(rows, cols, panel=(2.6, 2.3))
    for ax, (table, part) in zip(axes.ravel(), tables):
        stars = list(part.groupby("star", sort=False))
        for colour, (star, mine) in zip(style.class_colours(len(stars)), stars):
            ax.scatter(mine["log_mass"], mine["log_age"], s=3, lw=0, alpha=0.4, color=colour)
            mass, age = mine["true_log_mass"].iloc[0], mine["true_log_age"].iloc[0]
            label = f"star {star}: {int(mine['log_mass'].notna().sum())} of {len(mine)} draws in a grid"
            if np.isfinite(mass) and np.isfinite(age):
                ax.plot(mass, age, marker="X", ms=7, color=colour, mec="k", mew=0.6, ls="", label=label)
            elif np.isfinite(mass) or np.isfinite(age):
                line = ax.axvline if np.isfinite(mass) else ax.axhline
                line(mass if np.isfinite(mass) else age, color=colour, lw=0.8, label=label)
        ax.set(xlabel=QUANTITIES["log_mass"], ylabel=QUANTITIES["log_age"], title=f"{table}: {len(stars)} stars")
        ax.legend(fontsize=5)
    style.hide_unused(axes, len(tables))
    style.save(fig, out_png, "StelNet posterior draws of benchmark stars (crosses: true values)")
    return fig
