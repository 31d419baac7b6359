"""The encode rule: embeddings of every object of a store by a pretrained (or fine-tuned) encoder."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import xarray as xr

from astroflow.store import LightCurveStore, atomic_path, consolidate
from astroflow.train import artifacts
from astroflow.train.data import sample_bands
from astroflow.train.inference import embed
from astroflow.train.inputs import model_inputs
from astroflow.train.trainer import model_device, use_threads


def encode(model_path: str | Path, store_path: str | Path, out: str | Path, batch_size: int = 256,
           threads: int | None = None) -> None:
    """Embeddings of every object of the store (every hidden state, mean-pooled and averaged over the object's
    windows) as a Zarr store with dimensions (object, layer, feature)."""
    use_threads(threads)
    model, card = artifacts.load_model(model_path)
    encoder = model.encoder if card.kind == "classifier" else model
    store = LightCurveStore(store_path)
    ragged = sample_bands(store.load(), card.band_sampling, card.sync_tolerance, card.band)
    values = embed(encoder, model_inputs(ragged, np.arange(len(ragged)), card), batch_size, model_device(encoder))
    ds = xr.Dataset({"embedding": (("object", "layer", "feature"), values.astype(np.float32)),
                     "object_id": ("object", ragged.object_id.astype(object)), "label": ("object", ragged.label)},
                    attrs={"model": card.model, "source": str(model_path), "class_names": store.class_names})
    with atomic_path(out) as tmp:
        ds.to_zarr(tmp, consolidated=False)
        consolidate(tmp)
