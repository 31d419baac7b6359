"""Which objects train, validate and test, and the batches drawn from them.

Splits are of objects, never of windows, and are drawn from seeds so they can be recorded and redrawn. Batch
draws take a numpy Generator: the trainer seeds one per step, so a batch is a function of (seed, step).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from astroflow.errors import ConfigError
from astroflow.ragged import Ragged
from astroflow.represent.windows import random_windows, sequential_windows

ROLES = ("train", "validation", "test")


def stratified_split(labels: np.ndarray, fraction: float, seed: int | list[int]) -> np.ndarray:
    """A boolean mask choosing ``fraction`` of the objects of each label (rounded, at least one of a label with
    two or more objects), at random from ``seed``. Unlabelled objects (-1) form a label of their own."""
    rng = np.random.default_rng(seed)
    chosen = np.zeros(len(labels), dtype=bool)
    for value in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == value))
        n = round(fraction * len(members))
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


def balanced_draw(labels: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
    """``size`` positions into ``labels``, each a uniformly chosen class, then a uniformly chosen member of it."""
    classes, codes = np.unique(labels, return_inverse=True)
    counts = np.bincount(codes)
    order = np.argsort(codes, kind="stable")
    first = np.cumsum(counts) - counts
    cls = rng.integers(0, len(classes), size)
    return order[first[cls] + (rng.random(size) * counts[cls]).astype(np.int64)]


class Windows:
    """The objects a task draws windows from: which ones, how long, which band (None: all bands merged)."""

    def __init__(self, ragged: Ragged, index: np.ndarray, length: int, band: int | None):
        self.ragged, self.index, self.length, self.band = ragged, np.asarray(index, dtype=np.int64), length, band
        if not len(self.index):
            raise ValueError("no objects to draw windows from")

    def random(self, rows: np.ndarray, rng: np.random.Generator) -> dict[str, np.ndarray]:
        """One random window of each object at positions ``rows`` of ``index``."""
        return random_windows(self.ragged, self.index[rows], self.length, rng=rng, band=self.band)

    def all(self, rows: np.ndarray | None = None) -> dict[str, np.ndarray]:
        """Every window of the objects at ``rows`` (default all), back to back; ``index`` tells whose."""
        index = self.index if rows is None else self.index[rows]
        return sequential_windows(self.ragged, index, self.length, band=self.band)
