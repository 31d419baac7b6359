"""Fixed-length windows of light curves (Astromer, ATAT): the batch format every sequence model consumes.

A batch is a dict of numpy arrays, (B, L) unless noted:

    time   float32, days, minus the mean time of the window's real observations
    value  float32, minus the window's mean value likewise (``center=False`` keeps both raw)
    error  float32
    band   int64, band code per point
    mask   bool, True for a real observation, False for padding (padding is zero everywhere)
    index  int64 (B,), the object's index in the Ragged
    label  int64 (B,), its class code (-1 unknown)

Windows are cut by gathering with one index array per batch, so building them costs a few array operations
whatever the batch size.
"""
from __future__ import annotations

import numpy as np

from astroflow.ragged import Ragged

Rng = np.random.Generator | int | None
BLOCK = 1024  # windows cut at a time: (BLOCK, L) temporaries fit in cache
SEQUENCES = ("time", "value", "error", "band", "mask")  # a batch's (B, L) arrays


def random_windows(ragged: Ragged, index, length: int = 200, rng: Rng = None, band: int | str | None = None,
                   center: bool = True) -> dict[str, np.ndarray]:
    """One window of ``length`` consecutive observations per object in ``index``, starting at random.

    ``band`` keeps one band's observations only (per-band windows); None keeps all bands, time-ordered, with a
    band code per point (merged multiband windows). Shorter light curves give one padded window from the start.
    For many batches of one band, ``select_band`` once and window its result: the same windows, without
    selecting the band again in every batch.
    """
    index = _as_index(ragged, index)
    source, rows = _source(ragged, index, band)
    sizes = source.row_size[rows]
    starts = np.random.default_rng(rng).integers(0, np.maximum(sizes - length, 0) + 1)
    return _gather(source, rows, starts, length, center, index, ragged.label[index])


def sequential_windows(ragged: Ragged, index, length: int = 200, stride: int | None = None,
                       band: int | str | None = None, center: bool = True) -> dict[str, np.ndarray]:
    """Windows starting at 0, ``stride``, 2 ``stride``, ... (default: ``length``, no overlap) until each light curve
    is covered; ``index`` and ``label`` repeat for the windows of one object. ``band`` as in random_windows."""
    stride = length if stride is None else stride
    if stride < 1:
        raise ValueError(f"stride must be positive, not {stride}")
    index = _as_index(ragged, index)
    source, rows = _source(ragged, index, band)
    n_windows = 1 + -(-np.maximum(source.row_size[rows] - length, 0) // stride)
    first = np.cumsum(n_windows) - n_windows
    rows = np.repeat(rows, n_windows)
    starts = (np.arange(len(rows)) - np.repeat(first, n_windows)) * stride
    objects = np.repeat(index, n_windows)
    return _gather(source, rows, starts, length, center, objects, ragged.label[objects])


def capped_windows(ragged: Ragged, index, cap: int = 65, n_bands: int | None = None, rng: Rng = None,
                   center: bool = True) -> dict[str, np.ndarray]:
    """ATAT-style windows: up to ``cap`` consecutive observations of each band, band ``b`` in positions
    ``b * cap`` to ``(b + 1) * cap`` (L = n_bands * cap). Each band's run starts at random with ``rng``, else at
    its first observation."""
    index = _as_index(ragged, index)
    n_bands = len(ragged.bands) if n_bands is None else n_bands
    sub = ragged.subset(index)
    if len(sub.band) and int(sub.band.max()) >= n_bands:
        raise ValueError(f"band code {int(sub.band.max())} does not fit {n_bands} bands")
    batch, width = len(index), n_bands * cap
    obj = sub.owner
    group = obj * n_bands + sub.band
    order = np.argsort(group, kind="stable")  # stable: each band keeps its time order
    group = group[order]
    counts = np.bincount(group, minlength=batch * n_bands)
    first = np.cumsum(counts) - counts
    spare = np.maximum(counts - cap, 0)
    start = np.zeros_like(spare) if rng is None else np.random.default_rng(rng).integers(0, spare + 1)
    rank = np.arange(len(group)) - first[group] - start[group]
    keep = (rank >= 0) & (rank < cap)
    dest = group[keep] * cap + rank[keep]
    taken = order[keep]
    out = {}
    for name, values in (("time", sub.time), ("value", sub.value), ("error", sub.error), ("band", sub.band)):
        full = np.zeros(batch * width, dtype=values.dtype)
        full[dest] = values[taken]
        out[name] = full.reshape(batch, width)
    mask = np.zeros(batch * width, dtype=bool)
    mask[dest] = True
    out = _finish(out, mask.reshape(batch, width), center)
    out.update(index=index, label=ragged.label[index])
    return out


def select_band(ragged: Ragged, band: int | str) -> Ragged:
    """The same objects with only one band's observations (an object without that band keeps zero)."""
    return ragged.where(ragged.band == _band_code(ragged, band))


def _as_index(ragged: Ragged, index) -> np.ndarray:
    index = np.asarray(index, dtype=np.int64).reshape(-1)
    if len(index) and (index.min() < 0 or index.max() >= len(ragged)):
        raise IndexError(f"object index out of range 0..{len(ragged) - 1}")
    return index


def _band_code(ragged: Ragged, band: int | str) -> int:
    if isinstance(band, str):
        if band not in ragged.bands:
            raise ValueError(f"band {band!r} is not one of {ragged.bands}")
        return ragged.bands.index(band)
    return int(band)


def _source(ragged: Ragged, index: np.ndarray, band: int | str | None) -> tuple[Ragged, np.ndarray]:
    """Where windows are cut from, and the rows of the batch's objects in it."""
    if band is None:
        return ragged, index
    return select_band(ragged.subset(index), band), np.arange(len(index))


def _gather(source: Ragged, rows: np.ndarray, starts: np.ndarray, length: int, center: bool, index: np.ndarray,
            label: np.ndarray) -> dict[str, np.ndarray]:
    """Cut windows of ``length`` from ``starts`` (positions within each object) of objects ``rows``, a block of
    rows at a time so that the temporaries stay in cache."""
    blocks = [_gather_block(source, rows[i:i + BLOCK], starts[i:i + BLOCK], length, center)
              for i in range(0, max(len(rows), 1), BLOCK)]
    out = {name: np.concatenate([b[name] for b in blocks]) for name in blocks[0]}
    out.update(index=np.asarray(index, dtype=np.int64), label=np.asarray(label, dtype=np.int64))
    return out


def _gather_block(source: Ragged, rows: np.ndarray, starts: np.ndarray, length: int, center: bool) -> dict:
    steps = np.arange(length)
    mask = steps < (source.row_size[rows] - starts)[:, None]
    pos = np.where(mask, (source.offset[rows] + starts)[:, None] + steps, 0)
    if not len(source.time):  # nothing to gather from: every window is padding
        out = {name: np.zeros(mask.shape) for name in ("time", "value", "error", "band")}
    else:
        out = {"time": source.time[pos], "value": source.value[pos], "error": source.error[pos],
               "band": source.band[pos]}
    return _finish(out, mask, center)


def _finish(out: dict, mask: np.ndarray, center: bool) -> dict:
    """Zero-mean time (in float64, before the cast) and value over the real points, zero the padding, and fix
    the dtypes. Works in place: the arrays in ``out`` are fresh copies made by the gather."""
    pad = ~mask
    count = np.maximum(mask.sum(axis=1, keepdims=True), 1)
    for name, dtype in (("time", np.float64), ("value", np.float32), ("error", np.float32), ("band", np.int64)):
        values = np.asarray(out[name], dtype=dtype)
        np.copyto(values, 0, where=pad)
        if center and name in ("time", "value"):
            values -= (values.sum(axis=1, keepdims=True, dtype=np.float64) / count).astype(dtype)
            np.copyto(values, 0, where=pad)
        out[name] = values.astype(np.float32) if name == "time" else values
    out["mask"] = mask
    return out
