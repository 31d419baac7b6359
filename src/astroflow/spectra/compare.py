"""The spectra comparison table: every model's scores, mean and standard deviation over seeds, from its metrics."""
from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

# column -> (section of metrics.json, key)
COLUMNS = {
    "class_accuracy": ("class", "accuracy"), "class_macro_f1": ("class", "macro_f1"),
    "subclass_accuracy": ("subclass", "accuracy"), "subclass_macro_f1": ("subclass", "macro_f1"),
    "z_r2": ("redshift", "r2"), "z_nmad": ("redshift", "nmad"), "z_outliers": ("redshift", "outlier_fraction"),
    "z_success": ("redshift", "success_rate"),
}


def scores(metrics: dict) -> dict:
    return {name: metrics.get(section, {}).get(key, float("nan")) for name, (section, key) in COLUMNS.items()}


def compare(paths: Sequence[str | Path], out_csv: str | Path, out_md: str | Path) -> pd.DataFrame:
    """One row per model: runs, and each score's mean and std over the runs (seeds), in the order of ``paths``."""
    rows = []
    for path in paths:
        m = json.loads(Path(path).read_text())
        rows.append({"model": m["model"], "seed": m["seed"], "n_objects": m["n_objects"], **scores(m)})
    table = pd.DataFrame(rows)
    grouped = table.groupby("model", sort=False)
    out = grouped.agg(runs=("seed", "size"), n_objects=("n_objects", "first")).reset_index()
    for name in COLUMNS:
        out[f"{name}_mean"] = grouped[name].mean().to_numpy()
        out[f"{name}_std"] = grouped[name].std(ddof=0).to_numpy()
    out.to_csv(out_csv, index=False)
    lines = ["| model | runs | objects | " + " | ".join(COLUMNS) + " |", "|" + " --- |" * (3 + len(COLUMNS))]
    for _, r in out.iterrows():
        cells = [f"{r[f'{c}_mean']:.3f} ± {r[f'{c}_std']:.3f}" for c in COLUMNS]
        lines.append(f"| {r['model']} | {r['runs']} | {r['n_objects']} | " + " | ".join(cells) + " |")
    Path(out_md).write_text("\n".join(lines) + "\n")
    return out
