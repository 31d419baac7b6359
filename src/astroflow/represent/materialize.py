"""The represent stage: a named representation of every object of a store, written to Zarr, and example figures.

:func:`build` computes a representation for any set of objects, so a model's data loader that draws
them on the fly gets exactly what the materialised array holds. Names and what they give per object (dimension names in brackets):

    dtdm_cnn        float32 [band, channel, step]   dt and dm channels, leading 0 (Aguirre et al. 2019)
    dtdm_rnn        float32 [band, step, feature]   4 dt then 4 dm per step, stride 2 (Becker et al. 2020)
    dmdt            float32 [band, dt, dm]          2-D histograms of pairwise (dt, dm) (Mahabal et al. 2017)
    image_overlay   uint8 [y, x, rgb]               light-curve image, bands overlaid in colours
    image_stacked   uint8 [y, x, rgb]               one panel per band, top to bottom
    image_grid      uint8 [y, x, rgb]               panels in a grid (2x3 for six bands)

Sequences and maps are per band (``per_band: true``, the default) so that bands observed at the same time
never make zero time differences; transformer windows are drawn at random during training and are not
materialised. Figures of these inputs are the report's (astroflow.report.inputs).
"""
from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import zarr
from zarr.codecs import BloscCodec

from astroflow import provenance
from astroflow.logs import progress
from astroflow.ragged import Ragged
from astroflow.represent.dmdt import DmDt
from astroflow.represent.dtdm import dtdm_cnn, dtdm_rnn
from astroflow.represent.images import render_lightcurves
from astroflow.store import LightCurveStore, atomic_path, consolidate

log = logging.getLogger(__name__)

NAMES = ("dtdm_cnn", "dtdm_rnn", "dmdt", "image_overlay", "image_stacked", "image_grid")
DIMS = {"dtdm_cnn": ("band", "channel", "step"), "dtdm_rnn": ("band", "step", "feature"),
        "dmdt": ("band", "dt", "dm"), "image": ("y", "x", "rgb")}


def dims(name: str, per_band: bool = True) -> tuple[str, ...]:
    d = DIMS["image" if name.startswith("image_") else name]
    return ("object", *(d if per_band or name.startswith("image_") else d[1:]))


def dtdm_settings(cnn, rnn) -> dict:
    """The ``dtdm`` and ``rnn`` entries of the represent settings: the dt/dm shapes the CNN (``cnn``, a CNNConfig)
    and the RNN (``rnn``, an RNNConfig) read, per band as they read them, so a saved array is a model's input."""
    return {"dtdm": {"length": cnn.length, "per_band": True, "repair": False},
            "rnn": {"window": rnn.window, "stride": rnn.stride, "max_steps": rnn.max_steps, "per_band": True,
                    "repair": False}}


def build(name: str, ragged: Ragged, params: dict) -> np.ndarray:
    """The representation ``name`` of every object of ``ragged``; ``params`` is the config's represent section
    with :func:`dtdm_settings`."""
    if name == "dtdm_cnn":
        return dtdm_cnn(ragged, **params["dtdm"]).values
    if name == "dtdm_rnn":
        return dtdm_rnn(ragged, **params["rnn"]).values
    if name == "dmdt":
        p = dict(params["dmdt"])
        per_band, repair = p.pop("per_band"), p.pop("repair")
        return DmDt.from_borders(**p).maps(ragged, per_band=per_band, repair=repair)
    if name.startswith("image_") and name.removeprefix("image_") in ("overlay", "stacked", "grid"):
        p = dict(params["image"])
        grid = p.pop("grid")
        grid = tuple(grid) if grid else None
        return render_lightcurves(ragged, layout=name.removeprefix("image_"), grid=grid,
                                  magnitudes=params.get("magnitudes", True), **p)
    raise ValueError(f"unknown representation {name!r}; known: {', '.join(NAMES)}")


def _per_band(name: str, params: dict) -> bool:
    section = {"dtdm_cnn": "dtdm", "dtdm_rnn": "rnn", "dmdt": "dmdt"}.get(name)
    return bool(section and params[section].get("per_band"))


def materialize(store_path: str | Path, name: str, params: dict, out_path: str | Path) -> None:
    """Write representation ``name`` of every object in the store to a Zarr group readable by xarray."""
    store = LightCurveStore(store_path)
    ragged = store.load()
    params = {**params, "magnitudes": store.quantity == "mag"}
    batch = int(params.get("batch_size", 512))
    with atomic_path(out_path) as tmp:
        root = zarr.open_group(tmp, mode="w", zarr_format=3)
        data = None
        for start in progress(range(0, len(ragged), batch), f"{name}: batches of {batch}"):
            values = build(name, ragged.subset(np.arange(start, min(start + batch, len(ragged)))), params)
            if data is None:
                chunk = max(1, min(batch, (1 << 22) // max(1, values[0].nbytes)))  # about 4 MB a chunk
                data = root.create_array(name, shape=(len(ragged), *values.shape[1:]), dtype=values.dtype,
                                         chunks=(chunk, *values.shape[1:]), dimension_names=dims(name, _per_band(
                                             name, params)), compressors=BloscCodec(cname="zstd", clevel=3))
            data[start:start + len(values)] = values
        if data is None:
            raise ValueError(f"{store_path} holds no objects to represent")
        for var, values in (("object_id", ragged.object_id.astype(str)), ("label", ragged.label)):
            arr = root.create_array(var, shape=values.shape, dtype=values.dtype if var == "label" else str,
                                    dimension_names=("object",))
            arr[:] = values
        root.attrs.update({
            "representation": name, "bands": store.bands, "class_names": store.class_names,
            "params": json.dumps(params, default=str),
            "provenance": json.dumps(provenance.provenance(params, {str(store_path): provenance.sha256_tree(
                store_path)})),
        })
        consolidate(tmp)
    log.info("%s: %d objects -> %s", name, len(ragged), out_path)
