"""StelNet figures, drawn from the saved evaluation tables alone: predicted against true log mass and log age
(held-back tracks and each benchmark table), and posterior draws of example stars."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd


def _versus(ax, table: pd.DataFrame, name: str, title: str) -> None:
    truth, mid = table[f"true_{name}"], table[f"{name}_p50"]
    err = np.abs(np.stack([mid - table[f"{name}_p16"], table[f"{name}_p84"] - mid]))
    ax.errorbar(truth, mid, yerr=err, fmt="o", ms=2, lw=0.5, alpha=0.6)
    ok = np.isfinite(truth) & np.isfinite(mid)
    if ok.any():
        lo, hi = min(truth[ok].min(), mid[ok].min()), max(truth[ok].max(), mid[ok].max())
        ax.plot([lo, hi], [lo, hi], "k--", lw=0.8)
    ax.set(xlabel=f"true {name}", ylabel=f"predicted {name}", title=title)


def plot(holdback_path: str | Path, out: str | Path, benchmark_dir: str | Path | None = None,
         examples_path: str | Path | None = None) -> None:
    """The stellar_figures job: one PNG with a row per table (held-back tracks first), mass and age columns, and a
    row of posterior examples when benchmark draws are given."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    held = pd.read_parquet(holdback_path)
    tables = [(f"held-back {b}-MS tracks", held[held["branch"] == b]) for b in ("pre", "post")]
    if benchmark_dir is not None:
        tables += [(p.stem, pd.read_parquet(p)) for p in sorted(Path(benchmark_dir).glob("*.parquet"))]
    examples = pd.read_parquet(examples_path) if examples_path else pd.DataFrame()
    rows = len(tables) + (1 if len(examples) else 0)
    fig, axes = plt.subplots(rows, 2, figsize=(8, 3.2 * rows), squeeze=False)
    for (title, table), row in zip(tables, axes):
        _versus(row[0], table, "log_mass", title)
        _versus(row[1], table, "log_age", title)
    if len(examples):
        for name, ax in zip(("log_mass", "log_age"), axes[-1]):
            for (table, star), draws in examples.groupby(["table", "star"]):
                ax.hist(draws[name].dropna(), bins=30, histtype="step", label=f"{table} {star}")
                ax.axvline(draws[f"true_{name}"].iloc[0], color="k", lw=0.5)
            ax.set(xlabel=name, ylabel="posterior draws", title="posterior examples (line: true value)")
        axes[-1][0].legend(fontsize=6)
    fig.tight_layout()
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=90)
    plt.close(fig)
