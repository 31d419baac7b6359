"""Light curves as contiguous ragged arrays in memory: the layout of the store, ready for vectorised work.

Observations of object ``i`` are ``slice(offset[i], offset[i] + row_size[i])`` of the obs arrays,
sorted by time within the object; bands are interleaved and told apart by ``band`` codes.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class Ragged:
    time: np.ndarray       # float64 (n_obs,), MJD
    value: np.ndarray      # float32 (n_obs,), magnitude or flux
    error: np.ndarray      # float32 (n_obs,)
    band: np.ndarray       # int8 (n_obs,), index into ``bands``
    row_size: np.ndarray   # int64 (n_objects,)
    label: np.ndarray = None   # int64 (n_objects,), -1 unknown
    object_id: np.ndarray = None  # str (n_objects,)
    bands: list[str] = field(default_factory=list)
    class_names: list[str] = field(default_factory=list)

    def __post_init__(self):
        self.row_size = np.asarray(self.row_size, dtype=np.int64)
        n = len(self.row_size)
        if self.label is None:
            self.label = np.full(n, -1, dtype=np.int64)
        if self.object_id is None:
            self.object_id = np.arange(n).astype(str)
        if int(self.row_size.sum()) != len(self.time):
            raise ValueError(f"row sizes add up to {int(self.row_size.sum())} but there are {len(self.time)} observations")

    @property
    def offset(self) -> np.ndarray:
        """Start of each object in the obs arrays."""
        return np.cumsum(self.row_size) - self.row_size

    @property
    def owner(self) -> np.ndarray:
        """Index of the object each observation belongs to."""
        return np.repeat(np.arange(len(self.row_size)), self.row_size)

    def __len__(self) -> int:
        return len(self.row_size)

    def object(self, i: int) -> dict[str, np.ndarray]:
        """One object's observations (views, not copies)."""
        start = int(self.offset[i])
        s = slice(start, start + int(self.row_size[i]))
        return {"time": self.time[s], "value": self.value[s], "error": self.error[s], "band": self.band[s]}

    def subset(self, index) -> Ragged:
        """A new Ragged holding the chosen objects, in the order given."""
        index = np.asarray(index, dtype=np.int64)
        sizes = self.row_size[index]
        obs = positions(self.offset[index], sizes)
        return Ragged(time=self.time[obs], value=self.value[obs], error=self.error[obs], band=self.band[obs],
                      row_size=sizes, label=self.label[index], object_id=self.object_id[index],
                      bands=list(self.bands), class_names=list(self.class_names))

    def where(self, keep: np.ndarray) -> Ragged:
        """The same objects with only the observations where ``keep`` is True (an object may keep none)."""
        return Ragged(time=self.time[keep], value=self.value[keep], error=self.error[keep], band=self.band[keep],
                      row_size=np.bincount(self.owner[keep], minlength=len(self)), label=self.label,
                      object_id=self.object_id, bands=list(self.bands), class_names=list(self.class_names))

    def locate(self, obs: int) -> tuple[int, int]:
        """The object holding observation ``obs`` of the obs arrays, and the observation's position in it."""
        obj = int(np.searchsorted(np.cumsum(self.row_size), obs, side="right"))
        return obj, obs - int(self.offset[obj])


def positions(starts: np.ndarray, sizes: np.ndarray) -> np.ndarray:
    """The obs positions of objects that start at ``starts`` and hold ``sizes`` observations, concatenated."""
    return np.repeat(starts - (np.cumsum(sizes) - sizes), sizes) + np.arange(sizes.sum())


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


def concat(parts: list[Ragged]) -> Ragged:
    """The objects of ``parts`` one after another (bands and class names from the first part)."""
    first = parts[0]
    return Ragged(time=np.concatenate([p.time for p in parts]), value=np.concatenate([p.value for p in parts]),
                  error=np.concatenate([p.error for p in parts]), band=np.concatenate([p.band for p in parts]),
                  row_size=np.concatenate([p.row_size for p in parts]),
                  label=np.concatenate([p.label for p in parts]),
                  object_id=np.concatenate([p.object_id for p in parts]), bands=list(first.bands),
                  class_names=list(first.class_names))
