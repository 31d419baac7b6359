"""The evaluate rule: class probabilities of every labelled test object, and the scores."""
from __future__ import annotations

import logging
import time
from pathlib import Path

from astroflow.store import LightCurveStore
from astroflow.train import artifacts
from astroflow.train.data import sample_bands
from astroflow.train.inference import predict_proba
from astroflow.train.inputs import model_inputs
from astroflow.train.metrics import write_evaluation
from astroflow.train.split import readable, scored_objects
from astroflow.train.tabular import feature_table
from astroflow.train.trainer import model_device, use_threads

log = logging.getLogger(__name__)


def evaluate(model_path: str | Path, store_path: str | Path, split_path: str | Path, out_predictions: str | Path,
             out_metrics: str | Path, batch_size: int = 256, threads: int | None = None,
             features_path: str | Path | None = None) -> None:
    """Class probabilities of every test object, and the scores (metrics.classification_metrics)."""
    use_threads(threads)
    store = LightCurveStore(store_path)
    classifier, card = artifacts.load_model(model_path)
    test = scored_objects(store, split_path, card.class_names, model_path)
    ragged = sample_bands(store.load(), card.band_sampling, card.sync_tolerance, card.band)
    blind = int((~readable(ragged, test, card.band)).sum())
    if blind:  # scored all the same: leaving them out would flatter the model
        log.warning("%d test objects have no observation the model reads; classified from an empty window", blind)
    start = time.monotonic()
    inputs = model_inputs(ragged, test, card, table=feature_table(card, features_path, store))
    probs = predict_proba(classifier, inputs, batch_size, model_device(classifier))
    log.info("%d test objects classified in %.1f s", len(test), time.monotonic() - start)
    write_evaluation(ragged.object_id[test], ragged.label[test], probs, card.to_dict(), out_predictions, out_metrics)
