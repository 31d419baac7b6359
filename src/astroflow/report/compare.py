"""The comparison table: every classifier's test scores on the same splits, mean +- std over folds and seeds.

Each evaluation writes a metrics.json (train/stages.evaluate, train/forest.evaluate) naming its run (model, init,
n_per_class, fold, seed); runs differing only in fold and seed are one row.
"""
from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

import pandas as pd

from astroflow.errors import InputError

KEYS = ["model", "init", "n_per_class"]
SCORES = ["macro_f1", "accuracy"]
COLUMNS = [*KEYS, "fold", "seed", "n_objects", *SCORES]  # what runs() reads of each metrics.json


def runs(paths: Iterable[str | Path]) -> pd.DataFrame:
    """One row per evaluation: its run keys, fold, seed, test objects and scores."""
    rows = []
    for path in paths:
        try:
            metrics = json.loads(Path(path).read_text())
            rows.append({k: metrics[k] for k in COLUMNS})
        except (OSError, ValueError, KeyError) as err:
            raise InputError(path, f"is not an evaluation's metrics.json ({err})") from err
    return pd.DataFrame(rows, columns=COLUMNS)


def comparison(table: pd.DataFrame) -> pd.DataFrame:
    """Mean and sample standard deviation (NaN for a single run) of every score per (model, init, n_per_class),
    with the number of runs; labelled-set sizes in increasing order, ``all`` last."""
    table = table.assign(n_per_class=table["n_per_class"].astype(str))
    grouped = table.groupby(KEYS, sort=False)[SCORES]
    out = grouped.mean().add_suffix("_mean").join(grouped.std().add_suffix("_std"))
    out["runs"] = table.groupby(KEYS, sort=False).size()
    out = out.reset_index()
    size = pd.to_numeric(out["n_per_class"], errors="coerce").fillna(float("inf"))
    order = out.assign(_size=size).sort_values(["_size", "macro_f1_mean"], ascending=[True, False]).index
    return out.loc[order, [*KEYS, "runs", *(f"{s}_{a}" for s in SCORES for a in ("mean", "std"))]].reset_index(
        drop=True)


def markdown(table: pd.DataFrame) -> str:
    """The comparison as a Markdown table with ``mean ± std`` cells (no std for one run)."""
    def cell(mean: float, std: float) -> str:
        return f"{mean:.3f}" if pd.isna(std) else f"{mean:.3f} ± {std:.3f}"

    lines = ["| model | init | labelled per class | runs | macro-F1 | accuracy |", "|---|---|---|---|---|---|"]
    for r in table.itertuples(index=False):
        lines.append(f"| {r.model} | {r.init} | {r.n_per_class} | {r.runs} | {cell(r.macro_f1_mean, r.macro_f1_std)} "
                     f"| {cell(r.accuracy_mean, r.accuracy_std)} |")
    return "\n".join(lines) + "\n"


def write_comparison(paths: Iterable[str | Path], out_csv: str | Path, out_md: str | Path) -> pd.DataFrame:
    """The comparison of the evaluations at ``paths``, as CSV and Markdown; returns it."""
    table = comparison(runs(paths))
    table.to_csv(out_csv, index=False)
    Path(out_md).write_text(markdown(table))
    return table
