"""Reading a store larger than memory: blocks of whole objects, streamed in a seeded order through a shuffle buffer.

A store is cut into blocks (store.StoreBlocks): runs of consecutive objects, each one contiguous slice of every obs
variable; a process holds at most ``capacity`` of them (``StreamConfig.memory_mb`` divided by a block's size in
memory).

Training (:class:`Streamed`): the blocks holding the training objects are put in a fresh seeded order every epoch
and the buffer slides along that stream one block every ``steps_per_block`` steps (about one visit of each object
per pass). A step draws its batch exactly as the in-memory path does (data.Windows and its siblings), from the
objects in the buffer at that step. The buffer is a function of (seed, step), as the batch draw is, so a resumed
run sees the same batches; when the training objects fit the buffer, every block stays in and every batch is the
in-memory path's, bit for bit.

Inference (:func:`blockwise`): blocks in store order, each read and turned into model inputs by a worker process.

Several stores (:class:`Stores`, pretraining on other data sets) are read as one: their blocks one after another.

The mechanics are the libraries': zarr reads a slice of a sharded array by decoding only the chunks it touches,
and torch's DataLoader runs the batch preparation in worker processes with prefetching and ordered delivery. The
one thing neither offers is a shuffle over a store that keeps batches a function of (seed, step), which exact
resume and the in-memory equivalence need: a streaming shuffle in the usual sense (a buffer filled from an
iterator) makes a batch depend on all batches before it. That piece is this module.
"""
from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from astroflow.errors import ConfigError
from astroflow.ragged import Ragged, concat
from astroflow.store import StoreBlocks
from astroflow.train.split import readable


@dataclass(frozen=True)
class StreamConfig:
    """How a job reads a store: ``memory_mb`` caps the light curves a process holds (a store that fits is read
    once and kept); ``workers`` DataLoader processes prepare batches (each holds its own buffer, so a job holds
    about ``max(workers, 1) * memory_mb``). Neither changes a batch."""

    memory_mb: int = 2048
    workers: int = 0

    def __post_init__(self):
        if self.memory_mb < 1:
            raise ConfigError("stream.memory_mb", f"must be a positive number of megabytes, not {self.memory_mb}")
        if self.workers < 0:
            raise ConfigError("stream.workers", f"must be 0 (no worker processes) or more, not {self.workers}")


STREAM = StreamConfig()  # the schema's defaults


class Streamed:
    """A training source over the objects ``index`` (sorted) of a store read through a shuffle buffer.

    ``make(ragged, index)`` builds the in-memory source (data.Windows, inputs.DtDm or inputs.Images) the model reads;
    ``transform`` is applied to each block as read (e.g. data.sample_bands). :meth:`at` gives the source of a step.
    """

    def __init__(self, blocks: StoreBlocks, index: np.ndarray, make: Callable, batch_size: int, seed: int,
                 transform: Callable[[Ragged], Ragged] | None = None):
        self.blocks, self.make, self.transform, self.seed = blocks, make, transform, seed
        self.index = np.asarray(index, dtype=np.int64)
        if not len(self.index):
            raise ValueError("no objects to stream")
        if np.any(np.diff(self.index) <= 0):
            raise ValueError("streamed objects must be given in store order, each once")
        which = blocks.block_of(self.index)
        self.order, first = np.unique(which, return_index=True)
        self.members = dict(zip(self.order.tolist(), np.split(self.index, first[1:])))
        self.capacity = min(blocks.capacity, len(self.order))
        self.steps_per_block = max(1, round(len(self.index) / len(self.order) / batch_size))
        self._parts: dict[int, tuple[Ragged, np.ndarray]] = {}
        self._resident: tuple = ()
        self._source = None

    def resident(self, step: int) -> np.ndarray:
        """The blocks in the buffer at ``step``, in store order."""
        n = len(self.order)
        if self.capacity >= n:
            return self.order
        first = step // self.steps_per_block
        picks = [self._epoch(w // n)[w % n] for w in range(first, first + self.capacity)]
        return np.unique(picks)

    def _epoch(self, epoch: int) -> np.ndarray:
        return np.random.default_rng([self.seed, epoch]).permutation(self.order)

    def at(self, step: int):
        """The in-memory source of the objects in the buffer at ``step``; its batches' ``index`` is the store's."""
        blocks = tuple(self.resident(step).tolist())
        if blocks != self._resident:
            self._parts = {k: self._parts[k] if k in self._parts else self._read(k) for k in blocks}
            ragged = concat([self._parts[k][0] for k in blocks])
            index = np.concatenate([self._parts[k][1] for k in blocks])
            self._resident, self._source = blocks, StoreIndexed(self.make(ragged, np.arange(len(ragged))), index)
        return self._source

    def _read(self, k: int) -> tuple[Ragged, np.ndarray]:
        members = self.members[k]
        part = self.blocks.read(k).subset(members - self.blocks.bounds(k)[0])
        return (self.transform(part) if self.transform else part), members


class Stores:
    """Several stores read as one, with StoreBlocks' interface (what Streamed, blockwise and readable_objects use):
    object ``i`` of store ``s`` is object ``first[s] + i``, the blocks are each store's blocks in turn, and an
    object's id is ``<name>/<object_id>`` (ids repeat across stores). The stores must share their bands."""

    # A block is one store's block, so the index arithmetic over the joined ``starts`` is StoreBlocks' own.
    __len__, bounds, fits, block_of = StoreBlocks.__len__, StoreBlocks.bounds, StoreBlocks.fits, StoreBlocks.block_of

    def __init__(self, paths: dict[str, str | Path], memory_mb: int):
        self.names = list(paths)
        self.parts = [StoreBlocks(p, memory_mb) for p in paths.values()]
        sizes = [len(b.store.objects) for b in self.parts]
        self.first = np.cumsum([0, *sizes])
        self.first_block = np.cumsum([0, *(len(b) for b in self.parts)])
        self.starts = np.concatenate([*(b.starts[:-1] + f for b, f in zip(self.parts, self.first)), self.first[-1:]])
        self.capacity = min(b.capacity for b in self.parts)

    @property
    def objects(self) -> pd.DataFrame:
        """The stores' object tables one after another (object ids named as above)."""
        return pd.concat([b.store.objects.assign(object_id=self.named(s, b.store.objects["object_id"]))
                          for s, b in enumerate(self.parts)], ignore_index=True)

    def read(self, k: int) -> Ragged:
        s = int(np.searchsorted(self.first_block, k, side="right") - 1)
        return self._rename(s, self.parts[s].read(k - int(self.first_block[s])))

    def load(self, index: np.ndarray | None = None) -> Ragged:
        """All objects, or those at ``index`` (in increasing order), in memory."""
        which = np.arange(len(self.parts)) if index is None else np.unique(self.store_of(index))
        parts = []
        for s in which:
            local = None if index is None else index[self.store_of(index) == s] - self.first[s]
            parts.append(self._rename(s, self.parts[s].store.load(local)))
        return concat(parts)

    def store_of(self, index: np.ndarray) -> np.ndarray:
        """Which store each object of ``index`` is in."""
        return np.searchsorted(self.first, index, side="right") - 1

    def named(self, s: int, object_id) -> np.ndarray:
        """The ids ``object_id`` of store ``s`` as this reader names them."""
        return np.char.add(f"{self.names[s]}/", np.asarray(object_id, dtype=str))

    def _rename(self, s: int, ragged: Ragged) -> Ragged:
        return replace(ragged, object_id=self.named(s, ragged.object_id))


class StoreIndexed:
    """An in-memory source whose batches name objects by their store index (``store_index``) instead of their
    position in the source's own ragged arrays."""

    def __init__(self, source, store_index: np.ndarray):
        self.source, self.store_index = source, store_index
        self.ragged, self.index = source.ragged, source.index

    def random(self, rows: np.ndarray, rng: np.random.Generator) -> dict[str, np.ndarray]:
        return self.named(self.source.random(rows, rng))

    def all(self, rows: np.ndarray | None = None) -> dict[str, np.ndarray]:
        return self.named(self.source.all(rows))

    def named(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        return {**batch, "index": self.store_index[batch["index"]]}


def at(source, step: int):
    """The source a training step draws from: a streamed source's buffer at ``step``, an in-memory one itself."""
    return source.at(step) if isinstance(source, Streamed) else source


class _Blocks(torch.utils.data.Dataset):
    def __init__(self, blocks: StoreBlocks, prepare: Callable):
        self.blocks, self.prepare = blocks, prepare

    def __len__(self) -> int:
        return len(self.blocks)

    def __getitem__(self, k: int):
        return self.prepare(self.blocks.read(k), self.blocks.bounds(k)[0])


def as_is(item):
    """The DataLoader's collate step for items that are already what the job wants."""
    return item


def blockwise(blocks: StoreBlocks, prepare: Callable[[Ragged, int], object], workers: int = 0) -> Iterator:
    """``prepare(ragged, first)`` of every block in store order (``first``: its first object's store index), run in
    ``workers`` DataLoader processes (0: in this one) while the caller works on the block before."""
    loader = torch.utils.data.DataLoader(_Blocks(blocks, prepare), batch_size=None, num_workers=workers,
                                         collate_fn=as_is, prefetch_factor=2 if workers else None)
    yield from loader


def readable_objects(blocks: StoreBlocks, view: Callable[[Ragged], Ragged], band: int | None,
                     workers: int = 0) -> np.ndarray:
    """Which objects of the store have an observation the model reads (data.readable, of the light curves as
    ``view`` gives them to the model), in one pass over the store."""
    parts = blockwise(blocks, functools.partial(_readable, view=view, band=band), workers)
    return np.concatenate([np.zeros(0, dtype=bool), *parts])


def _readable(ragged: Ragged, first: int, view: Callable, band: int | None) -> np.ndarray:
    part = view(ragged)
    return readable(part, np.arange(len(part)), band)
