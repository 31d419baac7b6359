"""Report figures of the classifiers' test scores, from the evaluations' metrics.json alone: macro-F1 against the
labelled objects per class, confusion matrices and per-class F1 (each at the largest labelled set)."""
from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd

from astroflow.report import style
from astroflow.report.compare import COLUMNS, chance, runs

EXTRA = ["classes", "per_class_f1"]


def evaluations(paths: Iterable[str | Path]) -> pd.DataFrame:
    """Every evaluation's run keys, scores, confusion matrix, classes and per-class F1; n_per_class as text."""
    table = runs(paths, COLUMNS + EXTRA)
    return table.assign(n_per_class=table["n_per_class"].astype(str))


def _size(n_per_class: str) -> float:
    return float("inf") if n_per_class == "all" else float(n_per_class)


def _largest(table: pd.DataFrame) -> pd.DataFrame:
    """Each (model, init)'s runs at its largest labelled set."""
    largest = table.groupby(["model", "init"], sort=False)["n_per_class"].transform(
        lambda n: max(n, key=_size))
    return table[table["n_per_class"] == largest]


def _name(model: str, init: str) -> str:
    return model if init == "scratch" else f"{model} ({init})"


def f1_vs_labelled(paths: Iterable[str | Path], out_png: str | Path) -> None:
    """Macro-F1 (mean and standard deviation over folds and seeds) of every model against the labelled objects
    per class, with the uniform-guess chance level."""
    table = evaluations(paths)
    sizes = sorted(table["n_per_class"].unique(), key=_size)
    fig, axes = style.figure(1, 1, panel=(5.0, 3.2))
    ax = axes[0, 0]
    colours = style.class_colours(table.groupby(["model", "init"]).ngroups)
    for colour, ((model, init), runs_) in zip(colours, table.groupby(["model", "init"], sort=False)):
        per_size = runs_.groupby("n_per_class")["macro_f1"].agg(["mean", "std", "size"]).reindex(sizes)
        x = np.arange(len(sizes))[per_size["size"].notna().to_numpy()]
        per_size = per_size.dropna(subset=["size"])
        ax.errorbar(x, per_size["mean"], per_size["std"].fillna(0), marker="o", ms=3, capsize=2, color=colour,
                    ls="--" if init == "scratch" else "-", label=_name(model, init))
    level = chance(table["confusion_matrix"].iloc[0])["uniform guess"][0] if len(table["confusion_matrix"].iloc[0]) \
        else None
    if level is not None:
        ax.axhline(level, color="0.5", lw=0.8, ls=":", label="chance (uniform guess)")
    ax.set_xticks(range(len(sizes)), sizes)
    ax.set_xlabel("labelled objects per class")
    ax.set_ylabel("test macro-F1")
    ax.set_ylim(0, 1)
    fig.legend(loc="outside right center")
    style.save(fig, out_png, "macro-F1 against labelled objects per class")


def confusion_matrices(paths: Iterable[str | Path], out_png: str | Path) -> None:
    """The confusion matrix of every model at its largest labelled set, summed over folds and seeds, each row
    divided by the true class's test objects (recall on the diagonal)."""
    table = _largest(evaluations(paths))
    groups = list(table.groupby(["model", "init"], sort=False))
    rows, cols = style.grid_shape(len(groups), 3)
    classes = table["classes"].iloc[0]
    fig, axes = style.figure(rows, cols, panel=(0.32 * len(classes) + 2.2, 0.3 * len(classes) + 1.6))
    for ax, ((model, init), group) in zip(axes.ravel(), groups):
        confusion(ax, group["confusion_matrix"], classes,
                  f"{_name(model, init)}, n={group['n_per_class'].iloc[0]}, {len(group)} run(s)")
    style.hide_unused(axes, len(groups))
    style.save(fig, out_png, "confusion matrices at the largest labelled set (rows: true class)")


def confusion(ax, matrices: Iterable, classes: list[str], title: str) -> None:
    """Confusion matrices (rows: true class) summed, each row divided by the true class's objects, as a heat map."""
    matrix = np.sum([np.asarray(m, dtype=float) for m in matrices], axis=0)
    share = matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1)
    style.matrix(ax, share, classes, classes, cmap=style.CONFUSION, label="share of the true class")
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    ax.set_title(title)


def per_class_f1(paths: Iterable[str | Path], out_png: str | Path) -> None:
    """Test F1 of every class (columns) for every model, initialisation and labelled-set size (rows), mean over
    folds and seeds."""
    table = evaluations(paths)
    f1 = pd.DataFrame(list(table["per_class_f1"]), index=[f"{_name(m, i)}, n={n}" for m, i, n in zip(
        table["model"], table["init"], table["n_per_class"])])
    f1 = f1.assign(size=table["n_per_class"].map(_size).to_numpy())
    order = f1.groupby(level=0, sort=False)["size"].first().sort_values(kind="stable").index
    f1 = f1.drop(columns="size").groupby(level=0, sort=False).mean().loc[order]
    classes = [c for c in table["classes"].iloc[0] if c in f1.columns]
    fig, axes = style.figure(1, 1, panel=(0.45 * len(classes) + 3.0, 0.3 * len(f1) + 1.5))
    style.matrix(axes[0, 0], f1[classes].to_numpy(), list(f1.index), classes, label="test F1")
    axes[0, 0].set_xlabel("class")
    style.save(fig, out_png, "per-class test F1 (mean over folds and seeds)")

