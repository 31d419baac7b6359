"""dt/dm sequences: consecutive differences of time and magnitude, for the CNN and RNN light-curve classifiers.

CNN form (Aguirre et al. 2019, arXiv:1810.09440): two channels (dt, dm) that start with a 0, padded with zeros
or cut to a fixed length (500 in the paper). RNN form (Becker et al. 2020, arXiv:2002.00994): the differences
grouped in windows of ``window`` (4) with stride ``stride`` (2); a step holds the window's dt values and then its
dm values, 2 * window numbers (the authors' code concatenates (T, X) in that order).

Everything works on whole :class:`~astroflow.ragged.Ragged` sets at once with NumPy (no loop over objects).
Differences are taken over sorted series without repeated times: unsorted or repeated times, and non-finite
times or values, are an :class:`~astroflow.errors.InputError` unless ``repair=True`` sorts and merges them.
A light curve of fewer than two points has no differences: its sequence is all padding, with length 0.
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from astroflow.errors import InputError
from astroflow.ragged import Ragged

CHUNK = 4096  # series per run in the vectorised passes


@dataclass
class Series:
    """Sorted series with distinct times: one per object, or one per (object, band) when ``n_bands > 1``.

    Series ``i`` belongs to object ``i // n_bands`` and band ``i % n_bands``; a band an object lacks is an
    empty series, so per-band outputs reshape to ``(n_objects, n_bands, ...)``.
    """

    time: np.ndarray      # float64 (n_points,)
    value: np.ndarray     # float64 (n_points,)
    row_size: np.ndarray  # int64 (n_series,)
    n_bands: int

    @property
    def offset(self) -> np.ndarray:
        return np.cumsum(self.row_size) - self.row_size

    def chunks(self, size: int) -> Iterator[tuple[slice, Series]]:
        """Runs of at most ``size`` consecutive series as (their slice, a Series of views): per-point temporaries
        of a run stay in cache, which makes large sets several times faster than one pass over everything."""
        bounds = np.concatenate([[0], np.cumsum(self.row_size)])
        for first in range(0, len(self.row_size), size):
            rows = slice(first, min(first + size, len(self.row_size)))
            points = slice(bounds[rows.start], bounds[rows.stop])
            yield rows, Series(self.time[points], self.value[points], self.row_size[rows], self.n_bands)

    def fold(self, array: np.ndarray) -> np.ndarray:
        """Reshape a per-series array to (n_objects, n_bands, ...) when split by band; leave it when merged."""
        if self.n_bands == 1:
            return array
        return array.reshape(len(array) // self.n_bands, self.n_bands, *array.shape[1:])


def _object_error(ragged: Ragged, obs: int, problem: str, field: str) -> InputError:
    obj, position = ragged.locate(obs)
    return InputError(f"object {ragged.object_id[obj]}", f"observation {position}: {problem}", field=field)


def series(ragged: Ragged, per_band: bool = False, repair: bool = False) -> Series:
    """The light curves as sorted series without repeated times, per object or per (object, band).

    Raises InputError on non-finite times or values (the cleaner removes those upstream), on band codes
    outside ``ragged.bands``, and, unless ``repair``, on times out of order or repeated within a series.
    ``repair=True`` sorts each series by time and replaces points at the same time by one point with the
    mean value.
    """
    time = np.asarray(ragged.time, dtype=np.float64)
    value = np.asarray(ragged.value, dtype=np.float64)
    for name, array in (("time", time), ("value", value)):
        bad = np.flatnonzero(~np.isfinite(array))
        if bad.size:
            raise _object_error(ragged, int(bad[0]), f"non-finite {name} ({bad.size} in all)", name)
    n_objects = len(ragged)
    key = np.repeat(np.arange(n_objects, dtype=np.int64), ragged.row_size)
    n_bands = 1
    if per_band:
        band = np.asarray(ragged.band, dtype=np.int64)
        n_bands = len(ragged.bands) or (int(band.max()) + 1 if band.size else 1)
        bad = np.flatnonzero((band < 0) | (band >= n_bands))
        if bad.size:
            raise _object_error(ragged, int(bad[0]), f"band code {band[bad[0]]} outside 0..{n_bands - 1}", "band")
    if not repair:
        same = key[1:] == key[:-1]
        back = np.flatnonzero(same & (time[1:] < time[:-1]))
        if back.size:
            raise _object_error(ragged, int(back[0]) + 1, "time goes backwards (pass repair=True to sort)", "time")
    if per_band:
        key = key * n_bands + band
    if repair:
        order = np.lexsort((time, key))
    elif per_band:
        order = np.argsort(key, kind="stable")  # objects are time-sorted, so each band stays sorted
    else:
        order = None
    if order is not None:
        key, time, value = key[order], time[order], value[order]
    repeat = (key[1:] == key[:-1]) & (time[1:] == time[:-1])
    if repeat.any():
        if not repair:
            first = int(np.flatnonzero(repeat)[0]) + 1
            obs = first if order is None else int(order[first])
            raise _object_error(ragged, obs, "repeated time (pass repair=True to merge)", "time")
        group = np.concatenate([[0], np.cumsum(~repeat)])
        value = np.bincount(group, weights=value) / np.bincount(group)
        start = np.concatenate([[True], ~repeat])
        key, time = key[start], time[start]
    row_size = np.bincount(key, minlength=n_objects * n_bands).astype(np.int64)
    return Series(time=time, value=value, row_size=row_size, n_bands=n_bands)


@dataclass
class Sequences:
    """Padded sequences: ``values[..., :length]`` are real, ``mask`` is True there and False on padding."""

    values: np.ndarray  # float32
    mask: np.ndarray    # bool
    length: np.ndarray  # int64


def _positions(s: Series) -> tuple[np.ndarray, np.ndarray]:
    """Series index and position within the series of every point."""
    series_of = np.repeat(np.arange(len(s.row_size)), s.row_size)
    return series_of, np.arange(len(s.time)) - np.repeat(s.offset, s.row_size)


def dtdm_cnn(ragged: Ragged, length: int = 500, per_band: bool = False, repair: bool = False) -> Sequences:
    """CNN form: values (B, 2, length) of (dt, dm), each starting with 0; (B, n_bands, 2, length) per band.

    A series of n >= 2 points fills min(n, length) places (the first ``length`` points); shorter ones are
    zero-padded, and one of fewer than two points is all padding with length 0.
    """
    if length < 1:
        raise ValueError(f"length must be at least 1, got {length}")
    s = series(ragged, per_band, repair)
    n = s.row_size
    kept = np.where(n >= 2, np.minimum(n, length), 0)
    values = np.zeros((len(n), 2, length), dtype=np.float32)
    for rows, part in s.chunks(CHUNK):
        series_of, pos = _positions(part)
        j = np.flatnonzero((pos >= 1) & (pos < length))
        flat = series_of[j] * (2 * length) + pos[j]  # flat indices scatter several times faster than 3-D ones
        values[rows].reshape(-1)[flat] = np.diff(part.time)[j - 1]
        values[rows].reshape(-1)[flat + length] = np.diff(part.value)[j - 1]
    mask = np.arange(length) < kept[:, None]
    return Sequences(values=s.fold(values), mask=s.fold(mask), length=s.fold(kept))


def dtdm_rnn(ragged: Ragged, window: int = 4, stride: int = 2, max_steps: int | None = None,
             per_band: bool = False, repair: bool = False) -> Sequences:
    """RNN form: values (B, max_steps, 2 * window), a step being [dt_1..dt_w, dm_1..dm_w]; per band (B, n_bands, ...).

    Step k holds differences k * stride .. k * stride + window - 1 (n points give n - 1 differences), so a
    series has max(0, (n - 1 - window) // stride + 1) full steps; longer ones keep their first ``max_steps``
    (default: the longest in the set).
    """
    if window < 1 or stride < 1:
        raise ValueError(f"window and stride must be at least 1, got {window} and {stride}")
    s = series(ragged, per_band, repair)
    n_diff = np.maximum(s.row_size - 1, 0)
    steps = np.where(n_diff >= window, (n_diff - window) // stride + 1, 0)
    if max_steps is None:
        max_steps = int(steps.max()) if steps.size else 0
    steps = np.minimum(steps, max_steps)
    values = np.zeros((len(steps), max_steps, 2 * window), dtype=np.float32)
    for rows, part in s.chunks(CHUNK):
        dt, dm = np.diff(part.time), np.diff(part.value)  # series i's differences start at dt[offset[i]]
        step_of = np.repeat(np.arange(rows.stop - rows.start), steps[rows])
        k = np.arange(len(step_of)) - np.repeat(np.cumsum(steps[rows]) - steps[rows], steps[rows])
        idx = (part.offset[step_of] + k * stride)[:, None] + np.arange(window)
        values[rows].reshape(-1, 2 * window)[step_of * max_steps + k] = np.concatenate([dt[idx], dm[idx]], axis=1)
    mask = np.arange(max_steps) < steps[:, None]
    return Sequences(values=s.fold(values), mask=s.fold(mask), length=s.fold(steps))


def subsample(ragged: Ragged, seed: int, max_step: int = 2, max_offset: int | np.ndarray = 0) -> Ragged:
    """Augmentation for unevenly sampled series (Aguirre et al. 2019): per object keep every step-th point
    (step drawn from 1..max_step) from a random start (drawn from 0..max_offset, in points, never past the
    last point), so no light curve loses all its points.

    ``max_offset`` may be per object; the authors let the k-th extra copy of a light curve start up to k
    points in, so pass the ``copy`` numbers from :func:`balanced_epoch`. Points are taken in time order
    across all bands.
    """
    if max_step < 1 or np.any(np.asarray(max_offset) < 0):
        raise ValueError(f"max_step must be at least 1 and max_offset at least 0, got {max_step}, {max_offset}")
    rng = np.random.default_rng(seed)
    n = len(ragged)
    step = rng.integers(1, max_step, size=n, endpoint=True)
    top = np.minimum(np.broadcast_to(max_offset, (n,)), np.maximum(ragged.row_size - 1, 0))
    start = rng.integers(0, top, endpoint=True)
    obj = ragged.owner
    rel = np.arange(len(ragged.time)) - (ragged.offset + start)[obj]
    return ragged.where((rel >= 0) & (rel % step[obj] == 0))


def balanced_epoch(labels: np.ndarray, cap: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices of a class-balanced epoch (Aguirre et al. 2019): ``cap`` objects of every class.

    A class with more than ``cap`` objects gives ``cap`` of them drawn without replacement; a smaller class
    gives all of them, then whole extra copies while they fit, then a random part of one more copy. Returns
    (index, copy) in a shuffled order, ``copy`` being 0 for the first use of an object and k for its k-th
    repeat (feed it to :func:`subsample` as ``max_offset``). Unknown labels (-1) are left out.
    """
    if cap < 1:
        raise ValueError(f"cap must be at least 1, got {cap}")
    rng = np.random.default_rng(seed)
    labels = np.asarray(labels)
    index, copy = [], []
    for c in np.unique(labels[labels >= 0]):
        members = np.flatnonzero(labels == c)
        whole, rest = divmod(cap, len(members))
        if whole == 0:
            index.append(rng.choice(members, cap, replace=False))
            copy.append(np.zeros(cap, dtype=np.int64))
            continue
        index += [np.tile(members, whole), rng.choice(members, rest, replace=False)]
        copy += [np.repeat(np.arange(whole), len(members)), np.full(rest, whole)]
    if not index:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    index, copy = np.concatenate(index).astype(np.int64), np.concatenate(copy).astype(np.int64)
    order = rng.permutation(len(index))
    return index[order], copy[order]
