"""The uncertainty rule: one method's sampled probabilities of every labelled test object, its scores per object,
and how well they detect misclassifications, are calibrated, and trade coverage for accuracy."""
from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from astroflow.errors import InputError
from astroflow.models import HSA_SUFFIX
from astroflow.models.card import ModelCard
from astroflow.store import LightCurveStore
from astroflow.train import artifacts
from astroflow.train.data import sample_bands
from astroflow.train.inputs import model_inputs
from astroflow.train.metrics import RUN_KEYS, classification_metrics, predictions_table
from astroflow.train.split import recode, scored_objects
from astroflow.train.tabular import feature_table
from astroflow.train.trainer import model_device, use_threads
from astroflow.uncertainty.evaluation import assess
from astroflow.uncertainty.sampling import method_samples

log = logging.getLogger("astroflow.uncertainty")
SAME_INPUTS = ("model", "bands", "band", "window", "class_names", "normalisation", "band_sampling", "sync_tolerance",
               "image")  # what ensemble members must share


@dataclass
class UncertaintySettings:
    """The config's uncertainty section, as a job uses it."""

    passes: int = 10  # T stochastic passes of mc_dropout, hsa, ha_mc_dropout
    bins: int = 15  # confidence bins of the ECE and reliability diagrams
    coverage_points: int = 100  # points of each risk-coverage curve written out
    max_rows: int = 1024  # rows of one forward of the T-times repeated batch (more is faster on a GPU only)
    batch_size: int = 256  # objects per forward before repetition
    seed: int = 0  # of the dropout masks and Gumbel noise
    calibration: str = "temperature"  # the calibrated output, fitted on the validation objects (CALIBRATIONS)


def members_of(model_paths: list[str | Path]) -> tuple[list, ModelCard]:
    """The models (several for an ensemble), and the first one's card, after checking that they all read the same
    inputs and predict the same classes."""
    loaded = [artifacts.load_model(path) for path in model_paths]
    card = loaded[0][1]
    for path, (_, other) in zip(model_paths[1:], loaded[1:]):
        differ = [k for k in SAME_INPUTS if getattr(other, k) != getattr(card, k)]
        if differ:
            raise InputError(path, f"cannot join an ensemble with {model_paths[0]}: they differ in {differ}")
    return [model for model, _ in loaded], card


def validation_objects(store: LightCurveStore, train_split_path: str | Path) -> np.ndarray:
    """Store positions of the objects the fine-tuning run held out for validation (its split.parquet)."""
    split = pd.read_parquet(train_split_path)
    ids = split.loc[split["role"] == "validation", "object_id"].astype(str)
    position = pd.Series(np.arange(store.n_objects), index=store.objects["object_id"].astype(str))
    missing = ids[~ids.isin(position.index)]
    if len(missing) or not len(ids):
        raise InputError(train_split_path, f"lists {len(missing)} validation objects that are not in {store.path}"
                         if len(missing) else "lists no validation objects (temperature scaling needs them)")
    return position[ids].to_numpy()


def uncertainty(method: str, model_paths: list[str | Path], store_path: str | Path, split_path: str | Path,
                train_split_path: str | Path, out_objects: str | Path, out_metrics: str | Path,
                out_reliability: str | Path, out_coverage: str | Path, settings: UncertaintySettings,
                threads: int | None = None, features_path: str | Path | None = None) -> dict:
    """Score every labelled test object by ``method`` (astroflow.uncertainty.METHODS; ``ensemble`` joins the models of
    ``model_paths``, the other methods take one) and write: the per-object table (mean probabilities, prediction,
    every score), metrics.json, reliability bins and risk-coverage points (CSV, the report's figure data).
    The calibration (temperature or vector scaling, settings.calibration) is fitted on the fine-tuning run's
    validation objects. A model trained with classes held out (its card lists fewer classes than the store) is
    scored on every test object: those of the held-out classes are
    out-of-distribution (each score's AUROC at finding them), the rest of the metrics are of the others. A model that
    reads light-curve features reads them from ``features_path`` (the workflow's table) when given. Returns the
    metrics."""
    use_threads(threads)
    models, card = members_of(model_paths)
    store = LightCurveStore(store_path)
    test = scored_objects(store, split_path, card.class_names, model_paths[0], fewer_classes=True)
    held_out_classes = [name for name in store.class_names if name not in card.class_names]
    validation = validation_objects(store, train_split_path)
    ragged = sample_bands(store.load(), card.band_sampling, card.sync_tolerance, card.band)
    device = model_device(models[0])
    features = feature_table(card, features_path, store)

    def draw(index: np.ndarray) -> np.ndarray:
        return method_samples(method, models, model_inputs(ragged, index, card, table=features), settings.passes,
                              settings.batch_size, settings.max_rows, device)

    torch.manual_seed(settings.seed)
    start = time.monotonic()
    samples = draw(test)
    seconds = time.monotonic() - start
    log.info("%s: %d passes over %d test objects in %.2f s", method, samples.shape[1], len(test), seconds)
    label = recode(ragged.label, store.class_names, card.class_names)  # the model's class codes; held out: -1
    known = label[test] >= 0
    if held_out_classes and known.all():
        log.warning("no test object of the held-out classes %s: no out-of-distribution AUROC", held_out_classes)
    metrics, per_object, bins, curves = assess(samples, label[test], draw(validation).mean(axis=1), label[validation],
                                               settings.bins, settings.coverage_points, known, settings.calibration)
    mean = samples.mean(axis=1)
    table = predictions_table(ragged.object_id[test], label[test], mean, card.class_names)
    names = np.asarray(store.class_names, dtype=object)
    table["label"] = pd.array(names[ragged.label[test]], dtype="string")  # the true class, held out or not
    for name, score in per_object.items():
        table[name] = score.astype(np.float32)
    table.to_parquet(out_objects, index=False)
    # Rows of one model: the stochastic attention methods sample its *-hsa twin, named apart as sampled_model.
    metrics = ({k: getattr(card, k) for k in RUN_KEYS} | {"model": card.model.removesuffix(HSA_SUFFIX),
                                                          "sampled_model": card.model, "method": method,
                                                          "members": len(models), "seconds": seconds}
               | classification_metrics(label[test][known], mean[known].argmax(axis=1), card.class_names) | metrics
               | {"held_out_classes": held_out_classes, "settings": asdict(settings)})
    Path(out_metrics).write_text(json.dumps(metrics, indent=2))
    bins.to_csv(out_reliability, index=False)
    curves.to_csv(out_coverage, index=False)
    best = max((v["auroc"] or 0.0, k) for k, v in metrics["misclassification"].items())
    log.info("macro-F1 %.3f; best misclassification ROC-AUC %.3f (%s); ECE %.3f, calibrated %.3f (T = %.2f)",
             metrics["macro_f1"], best[0], best[1], metrics["calibration"]["ece"], metrics["calibrated"]["ece"],
             metrics["temperature"])
    if metrics["ood"]:
        log.info("out-of-distribution AUROC (%d objects of %s): %s", metrics["n_ood"], ", ".join(held_out_classes),
                 ", ".join(f"{k} {v:.3f}" for k, v in metrics["ood"].items()))
    return metrics
