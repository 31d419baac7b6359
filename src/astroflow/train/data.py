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


SAMPLINGS = ("asynchronous", "synchronous")


def synchronous_epochs(ragged: Ragged, tolerance: float) -> Ragged:
    """The light curves on shared epochs (synchronous band sampling, Multiband Astromer arXiv:2506.11637): every
    observation of the first band with an observation of each other band within ``tolerance`` days is an epoch;
    every band contributes its nearest observation there, all at the epoch's time, in band order. Observations at
    no such epoch are left out, so an object can keep none."""
    n_bands = max(len(ragged.bands), 1)
    obj = ragged.owner
    span = float(np.ptp(ragged.time)) if len(ragged.time) else 0.0
    # One sorted axis for all objects: each object's times shifted so no two objects come within the tolerance.
    key = ragged.time - (ragged.time.min() if len(ragged.time) else 0.0) + obj * (span + 2 * tolerance + 1)
    ref = np.flatnonzero(ragged.band == 0)
    matched = np.ones(len(ref), dtype=bool)
    picks = [ref]
    for b in range(1, n_bands):
        members = np.flatnonzero(ragged.band == b)
        if not len(members):
            matched[:] = False
            picks.append(ref)
            continue
        pos = np.searchsorted(key[members], key[ref])
        left, right = members[np.clip(pos - 1, 0, len(members) - 1)], members[np.clip(pos, 0, len(members) - 1)]
        gap_left, gap_right = np.abs(key[ref] - key[left]), np.abs(key[right] - key[ref])
        matched &= np.minimum(gap_left, gap_right) <= tolerance
        picks.append(np.where(gap_left <= gap_right, left, right))
    points = np.stack([p[matched] for p in picks], axis=1).ravel()
    epochs = ref[matched]
    return Ragged(time=np.repeat(ragged.time[epochs], n_bands), value=ragged.value[points],
                  error=ragged.error[points], band=np.tile(np.arange(n_bands, dtype=ragged.band.dtype), len(epochs)),
                  row_size=np.bincount(obj[epochs], minlength=len(ragged)) * n_bands, label=ragged.label,
                  object_id=ragged.object_id, bands=list(ragged.bands), class_names=list(ragged.class_names))


def sample_bands(ragged: Ragged, meta: dict) -> Ragged:
    """The light curves as a model reads them: as observed (asynchronous band sampling: each band at its own
    times, merged in time order), or on shared epochs (``meta["band_sampling"] == "synchronous"``, multiband
    models only)."""
    sampling = meta.get("band_sampling") or "asynchronous"
    if sampling not in SAMPLINGS:
        raise ConfigError("train.band_sampling", f"{sampling!r} is not one of {SAMPLINGS}")
    if sampling == "asynchronous" or meta.get("band") is not None:
        return ragged
    return synchronous_epochs(ragged, meta["sync_tolerance"])


def readable(ragged: Ragged, index: np.ndarray, band: int | None) -> np.ndarray:
    """Which of the objects ``index`` have an observation the model reads (in ``band``; None: any)."""
    index = np.asarray(index, dtype=np.int64)
    if band is None:
        return ragged.row_size[index] > 0
    obj = ragged.owner
    return np.bincount(obj[ragged.band == band], minlength=len(ragged))[index] > 0


def band_objects(ragged: Ragged) -> Ragged:
    """Every (object, band) pair as an object of its own, at position ``object * n_bands + band``: single-band
    light curves for pretraining single-band encoders on all bands."""
    n_bands = max(len(ragged.bands), 1)
    obj = ragged.owner
    group = obj * n_bands + ragged.band.astype(np.int64)
    order = np.argsort(group, kind="stable")  # stable: each band keeps its time order
    n = len(ragged) * n_bands
    return Ragged(time=ragged.time[order], value=ragged.value[order], error=ragged.error[order],
                  band=ragged.band[order], row_size=np.bincount(group, minlength=n),
                  label=np.repeat(ragged.label, n_bands), object_id=np.repeat(ragged.object_id, n_bands),
                  bands=list(ragged.bands), class_names=list(ragged.class_names))
