"""The batches drawn from the training objects, and the bands a model reads.

Batch draws take a numpy Generator: the trainer seeds one per step, so a batch is a function of (seed, step).
Which objects train, validate and test is astroflow.train.splits.
"""
from __future__ import annotations

import numpy as np

from astroflow.ragged import Ragged, band_objects
from astroflow.represent.windows import random_windows, sequential_windows


def balanced_draw(labels: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
    """``size`` positions into ``labels``, each a uniformly chosen class, then a uniformly chosen member of it."""
    classes, codes = np.unique(labels, return_inverse=True)
    counts = np.bincount(codes)
    order = np.argsort(codes, kind="stable")
    first = np.cumsum(counts) - counts
    cls = rng.integers(0, len(classes), size)
    return order[first[cls] + (rng.random(size) * counts[cls]).astype(np.int64)]


class Windows:
    """The objects a task draws windows from: which ones, how long, which band (None: all bands merged; ``apart``:
    every band as a light curve of its own, for single-band models, so that they learn from every band and an
    object's prediction averages the windows of all its bands)."""

    def __init__(self, ragged: Ragged, index: np.ndarray, length: int, band: int | None, apart: bool = False):
        self.ragged, self.index, self.length, self.band = ragged, np.asarray(index, dtype=np.int64), length, band
        if not len(self.index):
            raise ValueError("no objects to draw windows from")
        self.singles = band_objects(ragged) if apart else None
        self.n_bands = max(len(ragged.bands), 1)

    def random(self, rows: np.ndarray, rng: np.random.Generator) -> dict[str, np.ndarray]:
        """One random window of each object at positions ``rows`` of ``index`` (of a random band, when apart)."""
        index = self.index[rows]
        if self.singles is None:
            return random_windows(self.ragged, index, self.length, rng=rng, band=self.band)
        sizes = self.singles.row_size.reshape(-1, self.n_bands)[index]
        seen = np.maximum(sizes > 0, ~(sizes > 0).any(axis=1, keepdims=True))  # an empty object: any band
        band = (np.cumsum(seen, axis=1) > rng.random(len(index))[:, None] * seen.sum(axis=1, keepdims=True)).argmax(1)
        return random_windows(self.singles, index * self.n_bands + band, self.length, rng=rng) | {"index": index}

    def all(self, rows: np.ndarray | None = None) -> dict[str, np.ndarray]:
        """Every window of the objects at ``rows`` (default all), back to back; ``index`` tells whose."""
        index = self.index if rows is None else self.index[rows]
        if self.singles is None:
            return sequential_windows(self.ragged, index, self.length, band=self.band)
        sizes = self.singles.row_size.reshape(-1, self.n_bands)[index]
        seen = sizes > 0
        seen[:, 0] |= ~seen.any(axis=1)  # an object without observations still gets its (empty) window
        pairs = (index[:, None] * self.n_bands + np.arange(self.n_bands))[seen]
        batch = sequential_windows(self.singles, pairs, self.length)
        return batch | {"index": batch["index"] // self.n_bands}


def synchronous_epochs(ragged: Ragged, tolerance: float) -> Ragged:
    """The light curves on shared epochs (synchronous band sampling, Multiband Astromer arXiv:2506.11637): every
    observation of the first band with an observation of each other band within ``tolerance`` days is an epoch;
    every band contributes its nearest observation there, all at the epoch's time, in band order. Observations at
    no such epoch are left out, so an object can keep none."""
    n_bands = max(len(ragged.bands), 1)
    obj = ragged.owner
    span = float(np.ptp(ragged.time)) if len(ragged.time) else 0.0
    # One sorted axis for all objects, to find neighbours: each object's times shifted so no two objects come within
    # the tolerance. Gaps are measured on the times themselves (the shifted ones round).
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
        gap_left, gap_right = (np.where(obj[side] == obj[ref], np.abs(ragged.time[side] - ragged.time[ref]), np.inf)
                               for side in (left, right))
        matched &= np.minimum(gap_left, gap_right) <= tolerance
        picks.append(np.where(gap_left <= gap_right, left, right))
    points = np.stack([p[matched] for p in picks], axis=1).ravel()
    epochs = ref[matched]
    return Ragged(time=np.repeat(ragged.time[epochs], n_bands), value=ragged.value[points],
                  error=ragged.error[points], band=np.tile(np.arange(n_bands, dtype=ragged.band.dtype), len(epochs)),
                  row_size=np.bincount(obj[epochs], minlength=len(ragged)) * n_bands, label=ragged.label,
                  object_id=ragged.object_id, bands=list(ragged.bands), class_names=list(ragged.class_names))


def sample_bands(ragged: Ragged, band_sampling: str = "asynchronous", sync_tolerance: float | None = None,
                 band: int | None = None) -> Ragged:
    """The light curves as a model reads them: as observed (asynchronous band sampling: each band at its own
    times, merged in time order), or on shared epochs (``synchronous``, models reading all bands only)."""
    if band_sampling == "asynchronous" or band is not None:
        return ragged
    return synchronous_epochs(ragged, sync_tolerance)
