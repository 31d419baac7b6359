"""The encode rule: embeddings of every object of a store by a pretrained (or fine-tuned) encoder."""
from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from astroflow.errors import InputError
from astroflow.logs import progress
from astroflow.ragged import Ragged
from astroflow.store import LightCurveStore, StoreBlocks, atomic_path, consolidate
from astroflow.train import artifacts
from astroflow.train.data import sample_bands
from astroflow.train.inference import embed, pieces
from astroflow.train.inputs import model_inputs
from astroflow.train.streaming import STREAM, StreamConfig, blockwise
from astroflow.train.tabular import feature_table
from astroflow.train.trainer import model_device, use_threads


def encode(model_path: str | Path, store_path: str | Path, out: str | Path, batch_size: int = 256,
           threads: int | None = None, stream: StreamConfig = STREAM,
           features_path: str | Path | None = None) -> None:
    """Embeddings of every object of the store (every hidden state, mean-pooled and averaged over the object's
    windows) as a Zarr store with dimensions (object, layer, feature), computed and appended block by block:
    memory is ``stream.memory_mb`` of light curves (per worker process) whatever the store's size."""
    use_threads(threads)
    model, card = artifacts.load_model(model_path)
    encoder = model.encoder if card.kind == "classifier" else model
    store = LightCurveStore(store_path)
    blocks = StoreBlocks(store_path, stream.memory_mb)
    if not len(blocks):
        raise InputError(store_path, "the store has no objects to encode")
    # A model reading light-curve features takes the features rule's rows of each block; with no table, every
    # block's features are extracted from its light curves (model_inputs), so the store is never read whole.
    table = feature_table(card, features_path, store) if features_path else None
    ready = blockwise(blocks, functools.partial(_prepare, card=card, batch_size=batch_size, table=table),
                      stream.workers)
    with atomic_path(out) as tmp:
        for i, (object_id, label, cut) in enumerate(progress(ready, "encoding: blocks", total=len(blocks))):
            values = embed(encoder, cut, batch_size, model_device(encoder))
            ds = xr.Dataset({"embedding": (("object", "layer", "feature"), values.astype(np.float32)),
                             "object_id": ("object", object_id.astype(object)), "label": ("object", label)},
                            attrs={"model": card.model, "source": str(model_path), "class_names": store.class_names})
            ds.to_zarr(tmp, consolidated=False, **({"append_dim": "object"} if i else {}))
        consolidate(tmp)


def _prepare(ragged: Ragged, first: int, card, batch_size: int, table: pd.DataFrame | None = None) -> tuple:
    """A block's inputs, cut in batches (what a DataLoader worker does); ``table``: the feature table of the whole
    store, of which the block's rows ``first:first + n`` are read."""
    ragged = sample_bands(ragged, card.band_sampling, card.sync_tolerance, card.band)
    rows = None if table is None else table.iloc[first:first + len(ragged)]
    inputs = model_inputs(ragged, np.arange(len(ragged)), card, table=rows)
    return ragged.object_id, ragged.label, pieces(inputs, batch_size)
