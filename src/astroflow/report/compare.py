"""The comparison table: every classifier's test scores on the same splits, mean +- std over folds and seeds.

Each evaluation writes a metrics.json (train/stages.evaluate, train/forest.evaluate) naming its run (model, init,
n_per_class, fold, seed) with its confusion matrix; runs differing only in fold and seed are one row. Besides the
spread over runs, each score has a standard error from the finite test set (a bootstrap over the test objects,
drawn from the confusion matrix), the number of test objects, and chance levels from the test objects' classes.
A row whose runs learnt (almost) nothing (train/metrics.collapse: one class predicted, chance-level balanced
accuracy) says so in ``flags``. ``train_seconds`` is the mean wall time of a run's training (a fine-tuned encoder's
pretraining, shared by its runs, not included); evaluations written before it was recorded leave it empty.
"""
from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd

from astroflow.errors import InputError

KEYS = ["model", "init", "n_per_class"]
SCORES = ["macro_f1", "accuracy"]
COLUMNS = [*KEYS, "fold", "seed", "n_objects", *SCORES, "confusion_matrix"]  # what runs() reads of a metrics.json
BOOTSTRAP = 500  # resamples of the test set per run


def runs(paths: Iterable[str | Path], columns: list[str] = COLUMNS) -> pd.DataFrame:
    """One row per evaluation: its run keys, fold, seed, test objects, scores and confusion matrix (``columns``)."""
    rows = []
    for path in paths:
        try:
            metrics = json.loads(Path(path).read_text())
            rows.append({k: metrics[k] for k in columns} | {"flags": metrics.get("flags", []),
                                                            "train_seconds": metrics.get("train_seconds")})
        except (OSError, ValueError, KeyError) as err:
            raise InputError(path, f"is not an evaluation's metrics.json ({err})") from err
    return pd.DataFrame(rows, columns=[*columns, "flags", "train_seconds"])


def scores(confusion: np.ndarray) -> np.ndarray:
    """(macro-F1 over the classes with true objects, accuracy) of confusion matrices (..., true, predicted)."""
    true, pred, hit = confusion.sum(-1), confusion.sum(-2), np.diagonal(confusion, axis1=-2, axis2=-1)
    f1 = np.divide(2 * hit, true + pred, out=np.zeros(hit.shape), where=(true + pred) > 0)
    present = true > 0
    macro = (f1 * present).sum(-1) / np.maximum(present.sum(-1), 1)
    return np.stack([macro, hit.sum(-1) / np.maximum(true.sum(-1), 1)], axis=-1)


def bootstrap_se(confusion: list, seed: int = 0) -> tuple[float, float]:
    """Standard errors of (macro-F1, accuracy) from resampling the test objects, i.e. the cells of the confusion
    matrix with their counts; NaN without a matrix. The class set of the macro average follows each resample."""
    matrix = np.asarray(confusion, dtype=np.float64)
    n = matrix.sum()
    if matrix.ndim != 2 or n == 0:
        return np.nan, np.nan
    draws = np.random.default_rng(seed).multinomial(int(n), (matrix / n).ravel(), size=BOOTSTRAP)
    return tuple(scores(draws.reshape(BOOTSTRAP, *matrix.shape)).std(axis=0, ddof=1))


def chance(confusion: list) -> dict[str, tuple[float, float]]:
    """(macro-F1, accuracy) of guessing, from the test objects' classes (the confusion matrix's row sums):
    a uniform random guess (expected precision: the class's share; recall 1/K over the K classes of the model) and
    always the most common class."""
    true = np.asarray(confusion, dtype=np.float64).sum(axis=1)
    share = true / true.sum()
    present = share > 0
    k = len(share)
    uniform_f1 = 2 * share * (1 / k) / (share + 1 / k)
    top = share.max()
    return {"uniform guess": (float(uniform_f1[present].mean()), 1 / k),
            "majority class": (float(2 * top / (1 + top) / present.sum()), float(top))}


def comparison(table: pd.DataFrame) -> pd.DataFrame:
    """Mean and sample standard deviation (NaN for a single run) of every score per (model, init, n_per_class),
    with the number of runs, test objects, and the test-sampling standard error of the mean; labelled-set sizes in
    increasing order, ``all`` last; then the chance levels of the test objects (model ``chance``)."""
    table = table.assign(n_per_class=table["n_per_class"].astype(str))
    se = np.array([bootstrap_se(m) for m in table["confusion_matrix"]]).reshape(-1, len(SCORES))
    table = table.assign(**{f"{s}_se2": se[:, i] ** 2 for i, s in enumerate(SCORES)})
    grouped = table.groupby(KEYS, sort=False)
    out = grouped[SCORES].mean().add_suffix("_mean").join(grouped[SCORES].std().add_suffix("_std"))
    out["runs"] = grouped.size()
    out["test_objects"] = grouped["n_objects"].max()
    out["flags"] = grouped["flags"].agg(_flags)
    out["train_seconds"] = grouped["train_seconds"].agg(lambda s: pd.to_numeric(s).mean())
    for s in SCORES:
        out[f"{s}_se"] = np.sqrt(grouped[f"{s}_se2"].sum(min_count=1)) / out["runs"]
    out = out.reset_index()
    size = pd.to_numeric(out["n_per_class"], errors="coerce").fillna(float("inf"))
    order = out.assign(_size=size).sort_values(["_size", "macro_f1_mean"], ascending=[True, False]).index
    columns = [*KEYS, "runs", "test_objects", *(f"{s}_{a}" for s in SCORES for a in ("mean", "std", "se")),
               "train_seconds", "flags"]
    out = out.loc[order, columns].reset_index(drop=True)
    if len(table) and len(table["confusion_matrix"].iloc[0]):
        levels = chance(table["confusion_matrix"].iloc[0])
        guesses = pd.DataFrame([{"model": "chance", "init": name, "n_per_class": "", "runs": 0,
                                 "test_objects": int(table["n_objects"].iloc[0]), "macro_f1_mean": f1,
                                 "accuracy_mean": accuracy, "flags": ""} for name, (f1, accuracy) in levels.items()])
        out = pd.concat([out, guesses.reindex(columns=columns)], ignore_index=True)
    return out


def _flags(per_run: pd.Series) -> str:
    """Each collapse flag with the number of runs it was raised in, e.g. ``one class (2/3)``; empty if none."""
    counts = pd.Series([f for flags in per_run for f in flags], dtype=object).value_counts(sort=False)
    return ", ".join(f"{flag} ({n}/{len(per_run)})" for flag, n in counts.items())


def markdown(table: pd.DataFrame) -> str:
    """The comparison as a Markdown table: ``mean ± std`` over runs, or with one run (marked *) ``± se``, the test
    set's bootstrap standard error; chance levels without ±."""
    def cell(r, score: str) -> str:
        mean, std, se = (getattr(r, f"{score}_{a}") for a in ("mean", "std", "se"))
        if r.model == "chance" or (pd.isna(std) and pd.isna(se)):
            return f"{mean:.3f}"
        return f"{mean:.3f} ± {std:.3f}" if r.runs > 1 else f"{mean:.3f} ± {se:.3f}*"

    lines = ["| model | init | labelled per class | runs | test objects | macro-F1 | accuracy | training (s) | flags |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in table.itertuples(index=False):
        seconds = "" if pd.isna(r.train_seconds) else f"{r.train_seconds:.0f}"
        lines.append(f"| {r.model} | {r.init} | {r.n_per_class} | {r.runs} | {r.test_objects} "
                     f"| {cell(r, 'macro_f1')} | {cell(r, 'accuracy')} | {seconds} | {r.flags} |")
    lines += ["", ("± is the standard deviation over runs (folds x seeds); * one run: the bootstrap standard error "
                   "over the test objects. chance: a uniform random guess, and always the most common test class. "
                   "training: mean wall seconds of a run's training (pretraining of an encoder not included).")]
    return "\n".join(lines) + "\n"


def headline(table: pd.DataFrame) -> dict:
    """The comparison as nested plain values, ``{model/init/n<size>: {score: value}}`` (chance levels under
    ``chance/<guess>``): what ``dvc metrics show`` and ``dvc metrics diff`` read."""
    out = {}
    for r in table.to_dict("records"):
        key = f"{r['model']}/{r['init']}" + (f"/n{r['n_per_class']}" if r["model"] != "chance" else "")
        out[key] = {k: (None if pd.isna(r[k]) else round(float(r[k]), 4)) for k in
                    ("macro_f1_mean", "macro_f1_std", "macro_f1_se", "accuracy_mean", "accuracy_std", "accuracy_se")}
        out[key] |= {"runs": int(r["runs"]), "test_objects": int(r["test_objects"]),
                     "train_seconds": None if pd.isna(r["train_seconds"]) else round(float(r["train_seconds"]), 1)}
    return out


def write_comparison(paths: Iterable[str | Path], out_csv: str | Path, out_md: str | Path,
                     out_json: str | Path | None = None) -> pd.DataFrame:
    """The comparison of the evaluations at ``paths``, as CSV, Markdown and (for DVC metrics) JSON; returns it."""
    table = comparison(runs(paths))
    table.to_csv(out_csv, index=False)
    Path(out_md).write_text(markdown(table))
    if out_json:
        Path(out_json).write_text(json.dumps(headline(table), indent=2))
    return table
