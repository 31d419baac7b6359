"""The classic baseline, one function per rule: light-curve features of a store, a balanced random forest trained on
a labelled subset of them, and its evaluation in the same tables as the deep models.

The forest learns from the deep models' training objects of each (n_per_class, fold) (stages.labelled_objects);
it needs no validation objects, so theirs are left unused.
"""
from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from imblearn.ensemble import BalancedRandomForestClassifier

from astroflow import features as lcfeatures
from astroflow import provenance
from astroflow.errors import InputError
from astroflow.store import LightCurveStore
from astroflow.train.metrics import write_evaluation
from astroflow.train.stages import labelled_objects, same_objects, scored_objects

log = logging.getLogger("astroflow.train")
META_KEY = b"astroflow"  # the features table's schema metadata: bands, classes, quantity, provenance
SETTINGS = ("n_estimators", "max_features", "max_depth", "min_samples_leaf")  # train.forest keys the forest takes


def features(store_path: str | Path, out: str | Path, threads: int = -1) -> None:
    """Write the feature table of every object of the store (astroflow.features.extract), in store order, with the
    store's bands, class names and quantity and the provenance in the Parquet schema metadata."""
    store = LightCurveStore(store_path)
    start = time.monotonic()
    table = lcfeatures.extract(store.load(), store.quantity, n_jobs=threads)
    log.info("features of %d objects in %.1f s", len(table), time.monotonic() - start)
    meta = {"bands": store.bands, "class_names": store.class_names, "quantity": store.quantity,
            "provenance": provenance.provenance(lcfeatures.SETTINGS,
                                                {str(store_path): provenance.sha256_tree(store_path)})}
    arrow = pa.Table.from_pandas(table, preserve_index=False)
    arrow = arrow.replace_schema_metadata({**arrow.schema.metadata, META_KEY: json.dumps(meta).encode()})
    pq.write_table(arrow, out)


def read_features(path: str | Path) -> tuple[pd.DataFrame, dict]:
    """A feature table and its metadata (bands, class_names, quantity, provenance)."""
    metadata = pq.read_schema(path).metadata or {}
    if META_KEY not in metadata:
        raise InputError(path, "not an astroflow feature table (no astroflow metadata): rebuild it")
    return pd.read_parquet(path), json.loads(metadata[META_KEY])


def fit(config: dict, n_per_class: str, fold: int, seed: int, features_path: str | Path, split_path: str | Path,
        out_model: str | Path, out_split: str | Path, threads: int = -1) -> None:
    """Train a balanced random forest (train.forest settings, seeded by ``seed``) on ``n_per_class`` labelled pool
    objects of each class (fold ``fold``'s draw); write it with what scores it, and the objects it learnt from."""
    train = config["train"]
    section = train["forest"]
    table, info = read_features(features_path)
    split = pd.read_parquet(split_path)
    same_objects(table["object_id"], split["object_id"], features_path, split_path)
    labels = split["label"].to_numpy()
    chosen, held = labelled_objects(labels, np.flatnonzero(split["role"].to_numpy() == "pool"), n_per_class, fold,
                                    train)
    pd.DataFrame({"object_id": split["object_id"].to_numpy(dtype=str)[chosen], "label": labels[chosen],
                  "role": np.where(held, "validation", "train")}).to_parquet(out_split, index=False)
    learn = chosen[~held]  # the deep models' training objects; their validation objects are left unused
    names = lcfeatures.columns(info["bands"])
    fill = float(section.get("fill", lcfeatures.FILL))
    x, imputed = lcfeatures.matrix(table.iloc[learn], names, fill)
    _log_imputed(imputed, len(learn))
    settings = {k: section[k] for k in SETTINGS if k in section}
    forest = BalancedRandomForestClassifier(**settings, random_state=seed, n_jobs=threads)
    start = time.monotonic()
    forest.fit(x, labels[learn])
    log.info("forest of %d trees on %d objects, %d features in %.1f s", forest.n_estimators, len(learn), len(names),
             time.monotonic() - start)
    meta = {"model": "forest", "init": "scratch", "n_per_class": str(n_per_class), "fold": fold, "seed": seed,
            "class_names": info["class_names"], "bands": info["bands"], "columns": names, "fill": fill,
            "imputed": imputed, "settings": settings, "features": info["provenance"]}
    Path(out_model).parent.mkdir(parents=True, exist_ok=True)
    joblib.dump({"forest": forest, "meta": meta}, out_model)


def _log_imputed(imputed: dict[str, int], n: int) -> None:
    filled = {k: v for k, v in imputed.items() if v}
    if filled:
        most = max(filled, key=filled.get)
        log.info("%d missing or non-finite feature values of %d objects imputed, in %d of %d columns (most: %s, %d)",
                 sum(filled.values()), n, len(filled), len(imputed), most, filled[most])


def load(model_path: str | Path) -> tuple[BalancedRandomForestClassifier, dict]:
    """A forest written by :func:`fit`, and its meta."""
    saved = joblib.load(model_path)
    return saved["forest"], saved["meta"]


def predict_proba(forest: BalancedRandomForestClassifier, meta: dict, table: pd.DataFrame) -> np.ndarray:
    """Probabilities of every class of ``meta["class_names"]`` (0 for a class the forest never saw)."""
    x, imputed = lcfeatures.matrix(table, meta["columns"], meta["fill"])
    _log_imputed(imputed, len(table))
    probs = np.zeros((len(table), len(meta["class_names"])), dtype=np.float64)
    if len(table):
        probs[:, forest.classes_] = forest.predict_proba(x)
    return probs


def evaluate(model_path: str | Path, features_path: str | Path, split_path: str | Path, store_path: str | Path,
             out_predictions: str | Path, out_metrics: str | Path, threads: int = -1) -> None:
    """Class probabilities of every labelled test object and the scores, as astroflow.train.stages.evaluate."""
    forest, meta = load(model_path)
    forest.n_jobs = threads
    store = LightCurveStore(store_path)
    test = scored_objects(store, split_path, meta["class_names"], model_path)
    table, _ = read_features(features_path)
    same_objects(table["object_id"], store.objects["object_id"], features_path, store_path)
    label = store.objects["label"].to_numpy()
    probs = predict_proba(forest, meta, table.iloc[test])
    object_id = store.objects["object_id"].to_numpy(dtype=str)
    write_evaluation(object_id[test], label[test], probs, meta, out_predictions, out_metrics)
