"""Report figures of the spectra branch, from its evaluations' saved outputs alone (astroflow.spectra.evaluate:
metrics.json and redshift.csv of every model and seed on the test spectra): class confusion matrices, and predicted
against true redshift. The seeds of a model are pooled."""
from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from astroflow.errors import InputError
from astroflow.report import style
from astroflow.report.classification import confusion
from astroflow.spectra.redshift import OUTLIER


def evaluations(metrics: Sequence[str | Path]) -> pd.DataFrame:
    """One row per evaluation: model, seed, test spectra, class names, class confusion matrix, class accuracy and
    the redshift scores (None when the model regresses no redshift)."""
    rows = []
    for path in metrics:
        try:
            m = json.loads(Path(path).read_text())
            rows.append({"model": m["model"], "seed": m["seed"], "n_objects": m["n_objects"],
                         "classes": m["class"]["classes"], "confusion_matrix": m["class"]["confusion_matrix"],
                         "accuracy": m["class"]["accuracy"], "redshift": m.get("redshift")})
        except (OSError, ValueError, KeyError, TypeError) as err:
            raise InputError(path, f"is not a spectra evaluation's metrics.json ({err})") from err
        if rows[-1]["classes"] != rows[0]["classes"]:
            raise InputError(path, f"scores classes {rows[-1]['classes']}, not {rows[0]['classes']} as "
                                   f"{metrics[0]} does")
    if not rows:
        raise ValueError("no spectra evaluations to draw")
    return pd.DataFrame(rows)


def confusion_matrices(metrics: Sequence[str | Path], out_png: str | Path):
    """The class confusion matrix of every model on the test spectra, summed over seeds, each row divided by the
    true class's spectra (recall on the diagonal). Returns the figure."""
    table = evaluations(metrics)
    classes = table["classes"].iloc[0]
    groups = list(table.groupby("model", sort=False))
    rows, cols = style.grid_shape(len(groups), 4)
    fig, axes = style.figure(rows, cols, panel=(0.35 * len(classes) + 2.2, 0.3 * len(classes) + 1.6))
    for ax, (model, group) in zip(axes.ravel(), groups):
        confusion(ax, group["confusion_matrix"], classes,
                  f"{model}: accuracy {group['accuracy'].mean():.3f}, {len(group)} seed(s)")
    style.hide_unused(axes, len(groups))
    style.save(fig, out_png, "spectral class on the test spectra (rows: true class)")
    return fig


def _redshift_table(path: str | Path) -> pd.DataFrame:
    try:
        table = pd.read_csv(path)
    except (OSError, ValueError) as err:
        raise InputError(path, f"is not a spectra evaluation's redshift.csv ({err})") from err
    if not {"class", "z", "z_pred"} <= set(table.columns):
        raise InputError(path, f"has no class, z and z_pred columns (it has {list(table.columns)})")
    return table.dropna(subset=["z", "z_pred"])


def redshifts(metrics: Sequence[str | Path], redshift: Sequence[str | Path], out_png: str | Path):
    """Predicted against true redshift of the test spectra, one panel per model that predicts redshift (seeds pooled),
    coloured by true class, with the outlier bounds |dz| = 0.15 (1 + z); the titles give the mean over seeds of the
    success rate and NMAD of dz / (1 + z) that the evaluation scored. Returns the figure."""
    if len(metrics) != len(redshift):
        raise ValueError(f"{len(metrics)} metrics.json files but {len(redshift)} redshift.csv files")
    table = evaluations(metrics).assign(path=list(redshift))
    table = table[table["redshift"].notna()]
    points = {path: _redshift_table(path) for path in table["path"]}
    table = table[[len(points[p]) > 0 for p in table["path"]]]
    if table.empty:
        raise ValueError("no model predicts redshift: the redshift figure has nothing to draw")
    classes = list(dict.fromkeys([*table["classes"].iloc[0], *(c for p in table["path"] for c in points[p]["class"])]))
    colours = dict(zip(classes, style.class_colours(len(classes))))
    groups = list(table.groupby("model", sort=False))
    rows, cols = style.grid_shape(len(groups), 4)
    fig, axes = style.figure(rows, cols, panel=(2.6, 2.6))
    for ax, (model, group) in zip(axes.ravel(), groups):
        pooled = pd.concat([points[p] for p in group["path"]], ignore_index=True)
        for name, part in pooled.groupby("class", sort=False):
            ax.scatter(part["z"], part["z_pred"], s=4, lw=0, alpha=0.7, color=colours[name], label=name)
        low, high = min(pooled["z"].min(), 0.0), pooled["z"].max()
        style.identity(ax, low, high)
        z = np.linspace(low, high, 50)
        for sign in (1, -1):
            ax.plot(z, z + sign * OUTLIER * (1 + z), color="0.5", ls=":", lw=0.7)
        scores = pd.DataFrame(list(group["redshift"]))
        ax.set(xlabel="true z", ylabel="predicted z", title=f"{model}: success {scores['success_rate'].mean():.3f}, "
                                                             f"NMAD {scores['nmad'].mean():.3f}")
    style.hide_unused(axes, len(groups))
    axes.ravel()[0].legend(markerscale=2)
    style.save(fig, out_png, "predicted against true redshift (dashed: equal; dotted: outlier bounds)")
    return fig
