"""Which objects train, validate and test: the split rule, and the draws every model of a comparison shares.

Splits are of objects, never of windows, and are drawn from seeds so they can be recorded and redrawn. The forest
and the deep models both select their objects here, so this module imports neither torch nor scikit-learn.
"""
from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd

from astroflow.errors import ConfigError
from astroflow.ragged import Ragged
from astroflow.store import LightCurveStore

log = logging.getLogger(__name__)


def split(store_path: str | Path, out: str | Path, test_fraction: float, split_seed: int) -> None:
    """Record the held-out test objects (the store's own test split, else a stratified draw)."""
    store = LightCurveStore(store_path)
    table = test_split(store.objects, test_fraction, split_seed)
    table.to_parquet(out, index=False)
    log.info("%d test objects, %d in the pool", int((table.role == "test").sum()), int((table.role == "pool").sum()))


def stratified_split(labels: np.ndarray, fraction: float, seed: int | list[int], floor: int = 1) -> np.ndarray:
    """A boolean mask choosing ``fraction`` of the objects of each label (rounded; at least ``floor`` of a label, at
    most half of it, and at least one of a label with two or more objects), at random from ``seed``. Unlabelled
    objects (-1) form a label of their own."""
    rng = np.random.default_rng(seed)
    chosen = np.zeros(len(labels), dtype=bool)
    for value in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == value))
        n = max(round(fraction * len(members)), min(floor, len(members) // 2))
        if len(members) >= 2:
            n = min(max(n, 1), len(members) - 1)
        chosen[members[:n]] = True
    return chosen


def test_split(objects: pd.DataFrame, fraction: float, seed: int) -> pd.DataFrame:
    """Each object's role, ``test`` or ``pool`` (for pretraining and labelled subsets): the store's own test split
    (``split == "test"``) where it has one, else a stratified ``fraction`` of the labelled objects drawn from
    ``seed``. Unlabelled objects always join the pool (they can still be pretrained on)."""
    labels = objects["label"].to_numpy()
    if "split" in objects and (objects["split"] == "test").any():
        test = (objects["split"] == "test").to_numpy()
    else:
        test = stratified_split(labels, fraction, seed) & (labels >= 0)
    return pd.DataFrame({"object_id": objects["object_id"].astype(str).to_numpy(), "label": labels,
                         "role": np.where(test, "test", "pool")})


def labelled_subset(labels: np.ndarray, pool: np.ndarray, n_per_class: int | None, seed: int,
                    fold: int) -> np.ndarray:
    """Indices of ``n_per_class`` labelled objects of each class drawn from the ``pool`` indices (all of a class
    that has fewer; every labelled one with None), different for each ``fold``, the same for the same
    (seed, fold)."""
    rng = np.random.default_rng([seed, fold, n_per_class or 0])
    chosen = []
    for value in np.unique(labels[pool]):
        if value < 0:
            continue
        members = rng.permutation(pool[labels[pool] == value])
        chosen.append(members if n_per_class is None else members[:n_per_class])
    return np.sort(np.concatenate(chosen)) if chosen else np.zeros(0, dtype=np.int64)


def parse_n_per_class(value: str | int) -> int | None:
    """The {n_per_class} wildcard: a positive count, or ``all``."""
    if str(value) == "all":
        return None
    try:
        n = int(value)
    except ValueError:
        n = 0
    if n < 1:
        raise ConfigError("train.n_per_class", f"{value!r} is neither a positive count nor 'all'")
    return n


def same_objects(object_id, other_id, path: str | Path, other: str | Path) -> None:
    """Refuse a table at ``path`` whose objects are not ``other``'s, in the same order (made from another store)."""
    if not np.array_equal(np.asarray(object_id, dtype=str), np.asarray(other_id, dtype=str)):
        raise ConfigError("train", f"{path} does not list the objects of {other}: rebuild it")


def roles(store: LightCurveStore, split_path: str | Path) -> np.ndarray:
    """Each store object's role in the split file (test or pool), checked to list the same objects."""
    table = pd.read_parquet(split_path)
    same_objects(table["object_id"], store.objects["object_id"], split_path, store.path)
    return table["role"].to_numpy()


def labelled_objects(labels: np.ndarray, pool: np.ndarray, n_per_class: str | int, fold: int, split_seed: int,
                     validation_fraction: float, validation_min_per_class: int = 5,
                     left_out: list[int] | tuple[int, ...] = ()) -> tuple[np.ndarray, np.ndarray]:
    """The objects every classifier of a comparison learns from: fold ``fold``'s draw of ``n_per_class`` labelled
    ``pool`` objects per class, and which of them are held out for validation (early stopping; the forest leaves
    them unused). Objects of the classes ``left_out`` (codes) leave after the draw, so those of the other classes
    are the ones a run with every class learns from."""
    n = parse_n_per_class(n_per_class)
    chosen = labelled_subset(labels, pool, n, split_seed, fold)
    held = held_out(labels[chosen], validation_fraction, [split_seed, fold, n or 0], validation_min_per_class)
    keep = ~np.isin(labels[chosen], left_out)
    return chosen[keep], held[keep]


def known_classes(class_names: list[str], held_out_classes: list[str]) -> list[str]:
    """The classes a model learns when ``held_out_classes`` are held out of its training (to test out-of-distribution
    detection), in the data set's order; a clear error for a name that is not a class of the data set."""
    unknown = sorted(set(held_out_classes) - set(class_names))
    if unknown:
        raise ConfigError("uncertainty.held_out_classes", f"{unknown} are not classes of the data set (its classes: "
                          f"{', '.join(class_names)})")
    known = [name for name in class_names if name not in held_out_classes]
    if len(known) < 2:
        raise ConfigError("uncertainty.held_out_classes", f"holding out {sorted(held_out_classes)} leaves "
                          f"{known or 'no class'}: a classifier needs two classes or more")
    return known


def recode(label: np.ndarray, class_names: list[str], known: list[str]) -> np.ndarray:
    """Labels coded into ``class_names``, coded into ``known`` (some of them, in their order): -1 for an object of
    another class, as for an unlabelled one."""
    lookup = np.array([known.index(name) if name in known else -1 for name in class_names] + [-1], dtype=np.int64)
    return lookup[np.asarray(label, dtype=np.int64)]  # label -1 reads the last entry: still -1


def held_out(labels: np.ndarray, fraction: float, seed: list[int], min_per_class: int = 5) -> np.ndarray:
    """The validation share of training objects (``fraction`` of each class, at least ``min_per_class``: early
    stopping on a handful of objects stops at noise); a clear error when either side would be empty."""
    held = stratified_split(labels, fraction, seed, min_per_class)
    if held.all() or not held.any():
        raise ConfigError("train.validation_fraction", f"{len(labels)} objects cannot be split into training and "
                          f"validation objects (with {int(np.sum(labels >= 0))} labelled; n_per_class too small?)")
    return held


def scored_objects(store: LightCurveStore, split_path: str | Path, class_names: list[str],
                   model_path: str | Path, fewer_classes: bool = False) -> np.ndarray:
    """The labelled test objects the model at ``model_path`` (of ``class_names``: the store's classes, or with
    ``fewer_classes`` those of them it learnt, in the store's order) is scored on."""
    expected = [name for name in store.class_names if name in class_names] if fewer_classes else store.class_names
    if class_names != expected:
        raise ConfigError("train", f"{model_path} classifies {class_names}, the store has {store.class_names}")
    label = store.objects["label"].to_numpy()
    test = np.flatnonzero((roles(store, split_path) == "test") & (label >= 0))
    if not len(test):
        raise ConfigError("train.test_fraction", f"no labelled test objects in {store.path}")
    return test


def readable(ragged: Ragged, index: np.ndarray, band: int | None) -> np.ndarray:
    """Which of the objects ``index`` have an observation the model reads (in ``band``; None: any)."""
    index = np.asarray(index, dtype=np.int64)
    if band is None:
        return ragged.row_size[index] > 0
    obj = ragged.owner
    return np.bincount(obj[ragged.band == band], minlength=len(ragged))[index] > 0


def usable(ragged: Ragged, index: np.ndarray, band: int | None, what: str) -> np.ndarray:
    """The objects of ``index`` with anything for the model to read; the others are left out of training, logged."""
    return index[kept(readable(ragged, index, band), band, what)]


def kept(keep: np.ndarray, band: int | None, what: str) -> np.ndarray:
    """``keep`` (which ``what`` objects the model can read), the others' leaving logged."""
    if not keep.all():
        log.warning("%d %s objects have no observation the model reads (band %s): left out", int((~keep).sum()),
                    what, band)
    return keep
