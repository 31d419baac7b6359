"""Scores of a classifier on labelled objects, and the per-object predictions table."""
from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, recall_score

log = logging.getLogger(__name__)
# What a classifier's metrics say of the run that made it.
RUN_KEYS = ("model", "init", "n_per_class", "fold", "seed", "train_seconds")


def predictions_table(object_id: np.ndarray, label: np.ndarray, probs: np.ndarray,
                      class_names: list[str]) -> pd.DataFrame:
    """One row per object: object_id, label and pred (class names; label null where unknown), p_<class> each."""
    names = np.asarray(class_names, dtype=object)
    label = np.asarray(label)
    table = pd.DataFrame({
        "object_id": pd.array(np.asarray(object_id, dtype=str), dtype="string"),
        "label": pd.array(np.where(label >= 0, names[np.clip(label, 0, None)], None), dtype="string"),
        "pred": pd.array(names[probs.argmax(axis=1)] if len(probs) else [], dtype="string"),
    })
    for i, name in enumerate(class_names):
        table[f"p_{name}"] = probs[:, i].astype(np.float32)
    return table


def classification_metrics(label: np.ndarray, pred: np.ndarray, class_names: list[str]) -> dict:
    """Macro-F1, accuracy and balanced accuracy (mean recall) over the objects, F1 and recall of every class, the
    confusion matrix (rows: true class, columns: predicted; in ``class_names`` order) and the :func:`collapse`
    flags. Macro averages run over the classes that have true objects (a class absent from the test set has no
    defined recall)."""
    label, pred = np.asarray(label), np.asarray(pred)
    codes = list(range(len(class_names)))
    present = sorted(set(label.tolist()))
    per_class = f1_score(label, pred, labels=codes, average=None, zero_division=0)
    recall = recall_score(label, pred, labels=codes, average=None, zero_division=0)
    return {
        "n_objects": len(label),
        "accuracy": float(accuracy_score(label, pred)),
        "macro_f1": float(f1_score(label, pred, labels=present, average="macro", zero_division=0)),
        "balanced_accuracy": float(recall[present].mean()) if present else 0.0,
        "per_class_f1": {class_names[c]: float(per_class[c]) for c in present},
        "per_class_recall": {class_names[c]: float(recall[c]) for c in present},
        "classes": list(class_names),
        "confusion_matrix": confusion_matrix(label, pred, labels=codes).tolist(),
        "flags": collapse(label, pred),
    }


def collapse(label: np.ndarray, pred: np.ndarray) -> list[str]:
    """What says a classifier learnt (almost) nothing: ``one class`` when every object gets the same class (of two or
    more true ones), ``chance`` when its balanced accuracy is within two standard errors of guessing (1 / K for K
    classes; each class's recall under guessing is binomial over its objects)."""
    present, counts = np.unique(label, return_counts=True)
    if len(present) < 2:
        return []
    flags = ["one class"] if len(np.unique(pred)) == 1 else []
    k = len(present)
    recall = np.array([np.mean(pred[label == c] == c) for c in present])
    standard_error = np.sqrt(np.sum((1 / k) * (1 - 1 / k) / counts)) / k
    if recall.mean() <= 1 / k + 2 * standard_error:
        flags.append("chance")
    return flags


def write_evaluation(object_id: np.ndarray, label: np.ndarray, probs: np.ndarray, meta: dict,
                     out_predictions: str | Path, out_metrics: str | Path) -> dict:
    """Write an evaluation as every model's evaluation is written: the predictions table, and metrics.json with the
    run's RUN_KEYS from ``meta`` and the scores (classes ``meta["class_names"]``); returns the scores."""
    predictions_table(object_id, label, probs, meta["class_names"]).to_parquet(out_predictions, index=False)
    scores = classification_metrics(label, probs.argmax(axis=1), meta["class_names"])
    Path(out_metrics).write_text(json.dumps({k: meta.get(k) for k in RUN_KEYS} | scores, indent=2))
    log.info("macro-F1 %.3f, accuracy %.3f, balanced accuracy %.3f", scores["macro_f1"], scores["accuracy"],
             scores["balanced_accuracy"])
    if scores["flags"]:
        log.warning("%s %s learnt (almost) nothing: %s (flagged in the comparison table)", meta.get("model"),
                    meta.get("init"), ", ".join(scores["flags"]))
    return scores
