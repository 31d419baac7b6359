"""The uncertainty table: for every model and method, each score's misclassification ROC-AUC, the macro-F1 and
calibration of the mean prediction, and the inference cost relative to one deterministic pass; mean and std over
folds and seeds (the metrics.json files of the uncertainty rule). Runs of models trained with classes held out
(uncertainty.held_out_classes) are rows of their own, with each score's out-of-distribution AUROC."""
from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

import pandas as pd

from astroflow.errors import InputError

KEYS = ["model", "init", "n_per_class", "method"]
MODEL = [*KEYS[:3], "held_out"]  # held_out: the classes left out of its training, comma-separated ("" for none)
GROUP = [*MODEL, "method"]
VALUES = ["auroc", "aurc", "macro_f1", "ece", "ece_calibrated", "ece_floor", "seconds", "ood_auroc"]
OOD = ["held_out", "ood_auroc_mean", "ood_auroc_std"]  # columns of a table with held-out classes only


def rows(paths: Iterable[str | Path]) -> pd.DataFrame:
    """One row per (uncertainty run, score)."""
    out = []
    for path in paths:
        try:
            m = json.loads(Path(path).read_text())
            run = {k: m[k] for k in KEYS} | {
                "held_out": ", ".join(m.get("held_out_classes", [])), "fold": m["fold"], "seed": m["seed"],
                "macro_f1": m["macro_f1"], "ece": m["calibration"]["ece"], "ece_calibrated": m["calibrated"]["ece"],
                # metrics written before the floor was recorded (results pulled from an older run) leave it blank
                "ece_floor": m["calibrated"].get("ece_floor", float("nan")), "seconds": m["seconds"]}
            ood = m["ood"] or {}
            out += [run | {"score": score, "auroc": detection["auroc"], "aurc": m["risk_coverage"][score]["aurc"],
                           "ood_auroc": ood.get(score)}
                    for score, detection in m["misclassification"].items()]
        except (OSError, ValueError, KeyError, TypeError) as err:
            raise InputError(path, f"is not an uncertainty metrics.json ({err})") from err
    return pd.DataFrame(out, columns=[*GROUP, "fold", "seed", "score", *VALUES])


def summary(table: pd.DataFrame) -> pd.DataFrame:
    """Mean and std of every value per (model, init, n_per_class, held-out classes, method, score), the runs, and
    ``cost``: the method's mean inference time over that of the deterministic method of the same model (NaN without
    one). The held-out classes and out-of-distribution AUROC columns are left out when no run held classes out."""
    table = table.assign(n_per_class=table["n_per_class"].astype(str), auroc=table["auroc"].astype(float),
                         ood_auroc=table["ood_auroc"].astype(float))
    grouped = table.groupby([*GROUP, "score"], sort=False)[VALUES]
    out = grouped.mean().add_suffix("_mean").join(grouped.std().add_suffix("_std")).reset_index()
    out["runs"] = table.groupby([*GROUP, "score"], sort=False).size().to_numpy()
    base = out[out["method"] == "deterministic"].groupby(MODEL)["seconds_mean"].first().rename("base")
    out = out.join(base, on=MODEL)
    out["cost"] = out["seconds_mean"] / out.pop("base")
    out = out[[*GROUP, "score", "runs", *(f"{v}_{a}" for v in VALUES for a in ("mean", "std")), "cost"]]
    return out if out["held_out"].astype(bool).any() else out.drop(columns=OOD)


def markdown(table: pd.DataFrame) -> str:
    """The table in Markdown, ``mean ± std`` cells; the held-out classes and OOD AUROC columns when it has them."""
    def cell(mean: float, std: float) -> str:
        return "" if pd.isna(mean) else f"{mean:.3f}" if pd.isna(std) else f"{mean:.3f} ± {std:.3f}"

    ood = "held_out" in table
    header = ["model", "init", "n", *(["held out"] if ood else []), "method", "score", "runs", "ROC-AUC", "AURC",
              *(["OOD AUROC"] if ood else []), "macro-F1", "ECE", "ECE (T-scaled)", "ECE floor", "cost"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for r in table.itertuples(index=False):
        cells = [r.model, r.init, r.n_per_class, *([r.held_out] if ood else []), r.method, r.score, r.runs,
                 cell(r.auroc_mean, r.auroc_std), cell(r.aurc_mean, r.aurc_std),
                 *([cell(r.ood_auroc_mean, r.ood_auroc_std)] if ood else []), cell(r.macro_f1_mean, r.macro_f1_std),
                 cell(r.ece_mean, r.ece_std), cell(r.ece_calibrated_mean, r.ece_calibrated_std),
                 cell(r.ece_floor_mean, r.ece_floor_std), "" if pd.isna(r.cost) else f"x{r.cost:.1f}"]
        lines.append("| " + " | ".join(map(str, cells)) + " |")
    return "\n".join(lines) + "\n"


def write_summary(paths: Iterable[str | Path], out_csv: str | Path, out_md: str | Path) -> pd.DataFrame:
    """The uncertainty table of the runs at ``paths``, as CSV and Markdown; returns it."""
    table = summary(rows(paths))
    table.to_csv(out_csv, index=False)
    Path(out_md).write_text(markdown(table))
    return table
