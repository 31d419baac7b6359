"""The uncertainty table: for every model and method, each score's misclassification ROC-AUC, the macro-F1 and
calibration of the mean prediction, and the inference cost relative to one deterministic pass; mean and std over
folds and seeds (the metrics.json files of the uncertainty rule). Runs of models trained with classes held out
(uncertainty.held_out_classes) are rows of their own, with each score's out-of-distribution AUROC. With the runs'
objects.parquet, every score is also compared with the deterministic 1 - max p of the same model, fold and seed on
the same test objects (paired), the comparison of the issue's goal."""
from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

import pandas as pd

from astroflow.errors import InputError
from astroflow.uncertainty.evaluation import paired_difference

KEYS = ["model", "init", "n_per_class", "method"]
MODEL = [*KEYS[:3], "held_out"]  # held_out: the classes left out of its training, comma-separated ("" for none)
GROUP = [*MODEL, "method"]
VALUES = ["auroc", "vs_max_p", "aurc", "macro_f1", "ece", "ece_calibrated", "ece_floor", "seconds", "ood_auroc"]
OOD = ["held_out", "ood_auroc_mean", "ood_auroc_std"]  # columns of a table with held-out classes only


def rows(paths: Iterable[str | Path], objects: Iterable[str | Path] = ()) -> pd.DataFrame:
    """One row per (uncertainty run, score). With the runs' ``objects`` tables (objects.parquet beside each
    metrics.json): ``vs_max_p``, the score's ROC-AUC less that of 1 - max p of the deterministic run beside it (the
    same model, fold and seed wildcard: ensemble s<k> against deterministic s<k>), and its 95% paired bootstrap
    interval (``vs_max_p_low``, ``vs_max_p_high``); NaN without one."""
    out = []
    for path in paths:
        try:
            m = json.loads(Path(path).read_text())
            run = {k: m[k] for k in KEYS} | {
                "held_out": ", ".join(m.get("held_out_classes", [])), "fold": m["fold"], "seed": m["seed"],
                "macro_f1": m["macro_f1"], "ece": m["calibration"]["ece"], "ece_calibrated": m["calibrated"]["ece"],
                # metrics written before the floor was recorded (results pulled from an older run) leave it blank
                "ece_floor": m["calibrated"].get("ece_floor", float("nan")), "seconds": m["seconds"],
                "directory": Path(path).parent}
            ood = m["ood"] or {}
            out += [run | {"score": score, "auroc": detection["auroc"], "aurc": m["risk_coverage"][score]["aurc"],
                           "ood_auroc": ood.get(score)}
                    for score, detection in m["misclassification"].items()]
        except (OSError, ValueError, KeyError, TypeError) as err:
            raise InputError(path, f"is not an uncertainty metrics.json ({err})") from err
    table = pd.DataFrame(out, columns=[*GROUP, "fold", "seed", "score", *VALUES, "directory"])
    return with_differences(table, objects).drop(columns="directory")


def misclassified(path: str | Path) -> pd.DataFrame:
    """A run's test objects of the classes its model predicts, by object_id: every score, and ``wrong`` (the mean
    prediction is not the true class)."""
    try:
        table = pd.read_parquet(path)
        known = table["label"].isin([c.removeprefix("p_") for c in table.columns if c.startswith("p_")])
        table = table[known].set_index("object_id")
        return table.assign(wrong=(table["pred"] != table["label"]).to_numpy())
    except (OSError, ValueError, KeyError) as err:
        raise InputError(path, f"is not an uncertainty objects.parquet ({err})") from err


def with_differences(table: pd.DataFrame, objects: Iterable[str | Path]) -> pd.DataFrame:
    """``table`` with vs_max_p and its interval (see rows) for the runs whose objects.parquet is in ``objects``."""
    where = {Path(path).parent: path for path in objects}
    table = table.assign(vs_max_p=float("nan"), vs_max_p_low=float("nan"), vs_max_p_high=float("nan"))
    for directory in table["directory"].unique():
        base = directory.parent / "deterministic"
        if base not in where or directory not in where:
            continue
        this, det = misclassified(where[directory]), misclassified(where[base])
        if not this.index.sort_values().equals(det.index.sort_values()):
            raise InputError(where[directory], f"scores other test objects than {where[base]}")
        det = det.loc[this.index]
        for score in table.loc[table["directory"] == directory, "score"]:
            table.loc[(table["directory"] == directory) & (table["score"] == score),
                      ["vs_max_p", "vs_max_p_low", "vs_max_p_high"]] = paired_difference(
                this[score].to_numpy(), this["wrong"].to_numpy(), det["max_p"].to_numpy(), det["wrong"].to_numpy())
    return table


def summary(table: pd.DataFrame) -> pd.DataFrame:
    """Mean and std of every value per (model, init, n_per_class, held-out classes, method, score), the runs, the
    smallest vs_max_p of a run (``vs_max_p_worst``) and how many runs' intervals lie above 0 (``vs_max_p_above``),
    and ``cost``: the method's mean inference time over that of the deterministic method of the same model (NaN
    without one). The held-out classes and out-of-distribution AUROC columns are left out when no run held classes
    out."""
    table = table.assign(n_per_class=table["n_per_class"].astype(str), auroc=table["auroc"].astype(float),
                         ood_auroc=table["ood_auroc"].astype(float))
    above = (table["vs_max_p_low"] > 0).where(table["vs_max_p_low"].notna())
    by = table.assign(above=above.astype(float)).groupby([*GROUP, "score"], sort=False)
    grouped = by[VALUES]
    out = grouped.mean().add_suffix("_mean").join(grouped.std().add_suffix("_std")).reset_index()
    out["runs"] = by.size().to_numpy()
    out["vs_max_p_worst"] = by["vs_max_p"].min().to_numpy()
    out["vs_max_p_above"] = by["above"].sum(min_count=1).to_numpy()
    base = out[out["method"] == "deterministic"].groupby(MODEL)["seconds_mean"].first().rename("base")
    out = out.join(base, on=MODEL)
    out["cost"] = out["seconds_mean"] / out.pop("base")
    out = out[[*GROUP, "score", "runs", *(f"{v}_{a}" for v in VALUES for a in ("mean", "std")), "vs_max_p_worst",
               "vs_max_p_above", "cost"]]
    return out if out["held_out"].astype(bool).any() else out.drop(columns=OOD)


def markdown(table: pd.DataFrame) -> str:
    """The table in Markdown, ``mean ± std`` cells; the held-out classes and OOD AUROC columns when it has them."""
    def cell(mean: float, std: float, sign: str = "") -> str:
        return "" if pd.isna(mean) else f"{mean:{sign}.3f}" + ("" if pd.isna(std) else f" ± {std:.3f}")

    ood = "held_out" in table
    header = ["model", "init", "n", *(["held out"] if ood else []), "method", "score", "runs", "ROC-AUC",
              "vs 1 - max p (paired)", "worst run", "95% interval > 0", "AURC",
              *(["OOD AUROC"] if ood else []), "macro-F1", "ECE", "ECE (calibrated)", "ECE floor", "cost"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for r in table.itertuples(index=False):
        cells = [r.model, r.init, r.n_per_class, *([r.held_out] if ood else []), r.method, r.score, r.runs,
                 cell(r.auroc_mean, r.auroc_std), cell(r.vs_max_p_mean, r.vs_max_p_std, "+"),
                 cell(r.vs_max_p_worst, float("nan"), "+"),
                 "" if pd.isna(r.vs_max_p_above) else f"{r.vs_max_p_above:.0f} of {r.runs}", cell(r.aurc_mean, r.aurc_std),
                 *([cell(r.ood_auroc_mean, r.ood_auroc_std)] if ood else []), cell(r.macro_f1_mean, r.macro_f1_std),
                 cell(r.ece_mean, r.ece_std), cell(r.ece_calibrated_mean, r.ece_calibrated_std),
                 cell(r.ece_floor_mean, r.ece_floor_std), "" if pd.isna(r.cost) else f"x{r.cost:.1f}"]
        lines.append("| " + " | ".join(map(str, cells)) + " |")
    return "\n".join(lines) + "\n"


def write_summary(paths: Iterable[str | Path], out_csv: str | Path, out_md: str | Path,
                  objects: Iterable[str | Path] = ()) -> pd.DataFrame:
    """The uncertainty table of the runs at ``paths`` (metrics.json; their ``objects``, objects.parquet, for the
    paired comparison with 1 - max p), as CSV and Markdown; returns it."""
    table = summary(rows(paths, objects))
    table.to_csv(out_csv, index=False)
    Path(out_md).write_text(markdown(table))
    return table
