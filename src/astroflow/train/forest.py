"""The classic baseline, one function per rule: a random forest trained on a labelled subset of the light-curve
features (astroflow.features), and its evaluation in the same tables as the deep models.

The forest learns from the labelled objects of each (n_per_class, fold) that the deep models draw
(split.labelled_objects), the deep models' validation objects included: it needs no early stopping, and leaving a
fifth of the labels unused handicaps it. By default it is scikit-learn's random forest with class weights inversely
proportional to the class counts of each tree's bootstrap sample (``balanced_subsample``), the standard setup;
imbalanced-learn's balanced random forest (every tree on a class-balanced undersample of the majority classes,
ALeRCE's choice) is ``kind: balanced``, weaker by about 0.05 macro-F1 on an imbalanced catalogue (issue 10).
"""
from __future__ import annotations

import logging
import time
import zipfile
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from imblearn.ensemble import BalancedRandomForestClassifier
from sklearn.ensemble import RandomForestClassifier

from astroflow import features as lcfeatures
from astroflow.errors import ConfigError, InputError
from astroflow.features import read_features
from astroflow.store import LightCurveStore
from astroflow.train.metrics import write_evaluation
from astroflow.train.split import labelled_objects, same_objects, scored_objects

log = logging.getLogger(__name__)
# What a saved forest may hold beyond skops' own trusted types (numpy, sklearn trees, builtins): loading refuses
# anything else, so a model.skops pulled from a shared DVC remote cannot run code, unlike a pickle or joblib file.
TRUSTED = ["imblearn.ensemble._forest.BalancedRandomForestClassifier", "sklearn.ensemble._forest.RandomForestClassifier",
           "imblearn.pipeline.Pipeline",
           "imblearn.under_sampling._prototype_selection._random_under_sampler.RandomUnderSampler",
           "sklearn.tree._tree.Tree"]
KINDS = {"random": RandomForestClassifier, "balanced": BalancedRandomForestClassifier}


@dataclass
class ForestSettings:
    """train.forest (defaults the schema's)."""

    kind: str = "random"  # one of KINDS
    class_weight: str | None = "balanced_subsample"  # of the random kind (the balanced kind undersamples instead)
    n_estimators: int = 500
    max_features: str | float = "sqrt"
    max_depth: int | None = None
    min_samples_leaf: int = 1
    fill: float = lcfeatures.FILL  # the value of a missing or non-finite feature

    def forest(self) -> dict:
        """The settings the forest of ``kind`` takes."""
        if self.kind not in KINDS:
            raise ConfigError("train.forest.kind", f"{self.kind!r} is not one of {tuple(KINDS)}")
        skip = ("kind", "fill") + (("class_weight",) if self.kind == "balanced" else ())
        return {k: v for k, v in asdict(self).items() if k not in skip}


def train_forest(features_path: str | Path, split_path: str | Path, out_model: str | Path, out_split: str | Path, *,
                 n_per_class: str, fold: int, seed: int, settings: ForestSettings, split_seed: int,
                 validation_fraction: float, validation_min_per_class: int = 5, threads: int = -1) -> None:
    """Train a random forest (seeded by ``seed``) on ``n_per_class`` labelled pool objects of each class (fold
    ``fold``'s draw), all of them; write it with what scores it, and the objects it learnt from."""
    table, info = read_features(features_path)
    split = pd.read_parquet(split_path)
    same_objects(table["object_id"], split["object_id"], features_path, split_path)
    labels = split["label"].to_numpy()
    chosen, _ = labelled_objects(labels, np.flatnonzero(split["role"].to_numpy() == "pool"), n_per_class, fold,
                                 split_seed, validation_fraction, validation_min_per_class)
    pd.DataFrame({"object_id": split["object_id"].to_numpy(dtype=str)[chosen], "label": labels[chosen],
                  "role": "train"}).to_parquet(out_split, index=False)
    learn = chosen  # the deep models' validation objects too: the forest does not stop early
    names = lcfeatures.columns(info["bands"])
    fill = float(settings.fill)
    x, imputed = lcfeatures.matrix(table.iloc[learn], names, fill)
    _log_imputed(imputed, len(learn))
    params = settings.forest()  # checks the kind
    forest = KINDS[settings.kind](**params, random_state=seed, n_jobs=threads)
    start = time.monotonic()
    forest.fit(x, labels[learn])
    seconds = time.monotonic() - start
    log.info("%s of %d trees on %d objects, %d features in %.1f s", type(forest).__name__, forest.n_estimators,
             len(learn), len(names), seconds)
    meta = {"model": "forest", "init": "scratch", "n_per_class": str(n_per_class), "fold": fold, "seed": seed,
            "train_seconds": round(seconds, 2),
            "class_names": info["class_names"], "bands": info["bands"], "columns": names, "fill": fill,
            "imputed": imputed, "settings": {"kind": settings.kind, **settings.forest()}, "features": info["provenance"],
            "quantity": info["quantity"], "clean": info.get("clean", {}),
            "reader": info.get("reader", {})}  # for astroflow predict
    Path(out_model).parent.mkdir(parents=True, exist_ok=True)
    import skops.io  # here, not at the top: it loads scikit-learn's array-API modules, torch among them

    skops.io.dump({"forest": forest, "meta": meta}, out_model)


def _log_imputed(imputed: dict[str, int], n: int) -> None:
    filled = {k: v for k, v in imputed.items() if v}
    if filled:
        most = max(filled, key=filled.get)
        log.info("%d missing or non-finite feature values of %d objects imputed, in %d of %d columns (most: %s, %d)",
                 sum(filled.values()), n, len(filled), len(imputed), most, filled[most])


def load_forest(model_path: str | Path) -> tuple[RandomForestClassifier, dict]:
    """A forest written by :func:`train_forest`, and its meta; a file holding any type but a forest's is refused
    unread."""
    import skops.io

    try:
        untrusted = skops.io.get_untrusted_types(file=model_path)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError) as error:
        raise InputError(model_path, f"is not a forest model file (model.skops of the train_forest rule) "
                         f"({type(error).__name__})") from None
    unexpected = sorted(set(untrusted) - set(TRUSTED))
    if unexpected:
        raise InputError(model_path, f"refused: it holds types a random forest does not "
                         f"({', '.join(unexpected)}), which could run code when loaded")
    saved = skops.io.load(model_path, trusted=TRUSTED)
    if not (isinstance(saved, dict) and isinstance(saved.get("forest"), RandomForestClassifier)
            and isinstance(saved.get("meta"), dict)):
        raise InputError(model_path, "is not a forest model file (model.skops of the train_forest rule)")
    return saved["forest"], saved["meta"]


def forest_proba(forest: RandomForestClassifier, meta: dict, table: pd.DataFrame) -> np.ndarray:
    """Probabilities of every class of ``meta["class_names"]`` (0 for a class the forest never saw)."""
    x, imputed = lcfeatures.matrix(table, meta["columns"], meta["fill"])
    _log_imputed(imputed, len(table))
    probs = np.zeros((len(table), len(meta["class_names"])), dtype=np.float64)
    if len(table):
        probs[:, forest.classes_] = forest.predict_proba(x)
    return probs


def evaluate_forest(model_path: str | Path, features_path: str | Path, split_path: str | Path, store_path: str | Path,
             out_predictions: str | Path, out_metrics: str | Path, threads: int = -1) -> None:
    """Class probabilities of every labelled test object and the scores, as astroflow.train.evaluate.evaluate."""
    forest, meta = load_forest(model_path)
    forest.n_jobs = threads
    store = LightCurveStore(store_path)
    test = scored_objects(store, split_path, meta["class_names"], model_path)
    table, _ = read_features(features_path)
    same_objects(table["object_id"], store.objects["object_id"], features_path, store_path)
    label = store.objects["label"].to_numpy()
    probs = forest_proba(forest, meta, table.iloc[test])
    object_id = store.objects["object_id"].to_numpy(dtype=str)
    write_evaluation(object_id[test], label[test], probs, meta, out_predictions, out_metrics)
