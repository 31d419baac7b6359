"""The pretrain rule: masked-reconstruction pretraining of an encoder on the pool objects of the split."""
from __future__ import annotations

import functools
import logging
import shutil
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from astroflow import models
from astroflow.models.multiband import PerBandFusion
from astroflow.ragged import Ragged, band_objects
from astroflow.store import LightCurveStore, StoreBlocks
from astroflow.train import artifacts
from astroflow.train.data import Windows, sample_bands
from astroflow.train.inputs import model_inputs
from astroflow.train.split import held_out, kept, roles
from astroflow.train.streaming import STREAM, StreamConfig, Streamed, readable_objects
from astroflow.train.tabular import feature_table, rows_of, with_feature_norm
from astroflow.train.tasks import MAX_VALIDATION, MaskedReconstruction, Reconstructor
from astroflow.train.trainer import TrainConfig, Trainer, data_id, fingerprint, finish, use_threads

log = logging.getLogger(__name__)


@dataclass
class PretrainSettings(TrainConfig):
    """train.pretrain: the optimisation and the masking (defaults the schema's)."""

    max_steps: int = 4000
    warmup_steps: int = 100
    eval_every: int = 200
    checkpoint_every: int = 200
    probe: float = 0.5  # share of each window's points in the loss
    random: float = 0.2  # share of probed points given random values
    same: float = 0.2  # share of probed points left visible
    weight_by_error: bool = False
    aux_weight: float = 0.01  # Mixture of Experts load-balancing loss

    def masking(self) -> dict:
        """MaskedReconstruction's settings."""
        return {k: getattr(self, k) for k in ("batch_size", "probe", "random", "same", "weight_by_error", "aux_weight")}


def pretrain(store_path: str | Path, split_path: str | Path, out_model: str | Path, out_metrics: str | Path,
             workdir: str | Path, *, model: str, seed: int, settings: PretrainSettings, split_seed: int,
             validation_fraction: float, overrides: dict | None = None, band: str | None = None,
             band_sampling: str = "asynchronous", sync_tolerance: float | None = None,
             pretraining: str = "joint", validation_min_per_class: int = 5, stream: StreamConfig = STREAM,
             threads: int | None = None, features_path: str | Path | None = None) -> None:
    """Masked-reconstruction pretraining on the pool objects, a stratified share of them held out for early
    stopping. A per-band multiband model is pretrained jointly (all of it on multiband windows) or, with
    ``pretraining="independent"``, band encoder by band encoder on single-band windows.

    The store is read through a shuffle buffer of ``stream.memory_mb`` (train/streaming.py), so a store larger
    than memory trains; one that fits is read once and trains exactly as from memory. Independent pretraining
    reads the store whole."""
    use_threads(threads)
    store = LightCurveStore(store_path)
    role = roles(store, split_path)
    card = artifacts.new_card(model, store, overrides, band, band_sampling, sync_tolerance)
    view = functools.partial(sample_bands, band_sampling=card.band_sampling, sync_tolerance=card.sync_tolerance,
                             band=card.band)
    blocks = StoreBlocks(store_path, stream.memory_mb)
    pool = np.flatnonzero(role == "pool")
    pool = pool[kept(readable_objects(blocks, view, card.band, stream.workers)[pool], card.band, "pool")]
    labels = store.objects["label"].to_numpy()
    held = held_out(labels[pool], validation_fraction, [split_seed, seed], validation_min_per_class)
    table = feature_table(card, features_path, store)
    card = with_feature_norm(card, table, pool[~held], head=False)
    torch.manual_seed(seed)
    encoder = models.build(model, **card.overrides)
    if isinstance(encoder, PerBandFusion):
        card.pretraining = pretraining
    card.seed = seed
    objects = data_id(store.objects, role)
    run_id = fingerprint(objects, card.to_dict(), asdict(settings))
    card.config_hash, card.data = run_id, {"objects": objects}
    log.info("pretraining %s (%s) on %d objects (%d validation), reading %s", model, card.pretraining or "joint",
             int((~held).sum()), int(held.sum()), "the store whole" if blocks.fits(pool[~held]) else
             f"{stream.memory_mb} MB of it at a time")
    if card.pretraining == "independent":
        ragged = view(store.load())
        metrics = pretrain_band_encoders(encoder, ragged, pool[~held], pool[held], card.window, settings, seed,
                                         workdir, run_id, name=run_name(model, seed))
        artifacts.save_model(out_model, encoder, card)
        metrics.to_csv(out_metrics, index=False)
        shutil.rmtree(workdir)
        return
    # Validation reads fixed windows of at most MAX_VALIDATION held-out objects: those alone are loaded.
    validation = pool[held][:MAX_VALIDATION]
    make = functools.partial(_inputs, card=card, table=table)
    task = MaskedReconstruction(Streamed(blocks, pool[~held], make, settings.batch_size, seed, view),
                                make(view(store.load(validation)), np.arange(len(validation))), **settings.masking())
    trainer = Trainer(replace(settings, seed=seed), workdir, run_id=run_id, workers=stream.workers,
                      name=run_name(model, seed))
    trainer.fit(Reconstructor(encoder), task)
    artifacts.save_model(out_model, encoder, card)
    finish(trainer, out_metrics)


def run_name(model: str, seed: int) -> str:
    """How a pretraining run's log lines name it, e.g. ``astromer-tiny pretraining s0``."""
    return f"{model} pretraining s{seed}"


def _inputs(ragged: Ragged, index: np.ndarray, card, table: pd.DataFrame | None = None) -> object:
    """The model inputs of a streamed buffer (or the validation objects), with the feature table's rows of its
    objects when the model reads light-curve features."""
    return model_inputs(ragged, index, card, table=None if table is None else rows_of(table, ragged.object_id))


def pretrain_band_encoders(encoder: PerBandFusion, ragged: Ragged, train_index: np.ndarray,
                           validation_index: np.ndarray, window: int, settings: PretrainSettings, seed: int,
                           workdir: str | Path, run_id: str, name: str = "") -> pd.DataFrame:
    """Independent pretraining (Multiband Astromer): each band encoder of ``encoder`` learns masked reconstruction
    of its band's single-band windows (a shared encoder: of every band's), one run after another in
    ``workdir``/encoder<i>; the band embedding and fusion blocks are left to fine-tuning. Returns the runs'
    metrics, with an ``encoder`` column."""
    singles = band_objects(ragged)
    n_bands = encoder.config.n_bands
    tables = []
    for i, band_encoder in enumerate(encoder.encoders):
        bands = np.arange(n_bands) if encoder.config.shared else np.array([i])
        task = MaskedReconstruction(_single_band(singles, train_index, bands, window),
                                    _single_band(singles, validation_index, bands, window), **settings.masking())
        trainer = Trainer(replace(settings, seed=seed), Path(workdir) / f"encoder{i}", run_id=fingerprint(run_id, i),
                          name=f"{name} encoder {i}")
        trainer.fit(Reconstructor(band_encoder), task)
        tables.append(pd.read_csv(trainer.metrics_path).assign(encoder=i))
    return pd.concat(tables, ignore_index=True)


def _single_band(singles: Ragged, index: np.ndarray, bands: np.ndarray, window: int) -> Windows:
    """Windows of the ``bands`` light curves of objects ``index`` in band_objects' ``singles`` (empty ones left out)."""
    pairs = (index[:, None] * len(singles.bands) + bands).ravel()
    return Windows(singles, pairs[singles.row_size[pairs] > 0], window, None)
