"""The pretrain rule: masked-reconstruction pretraining of an encoder on the pool objects of the split, or on other
data sets' objects (pretraining corpora)."""
from __future__ import annotations

import functools
import hashlib
import json
import logging
import os
import shutil
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from astroflow import models
from astroflow.errors import ConfigError
from astroflow.models.multiband import PerBandFusion
from astroflow.ragged import Ragged, band_objects
from astroflow.store import LightCurveStore
from astroflow.train import artifacts, distributed
from astroflow.train.data import Windows, sample_bands
from astroflow.train.inputs import model_inputs
from astroflow.train.split import held_out, kept, roles
from astroflow.train.streaming import STREAM, Stores, StreamConfig, Streamed, readable_objects
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


@dataclass(frozen=True)
class Corpus:
    """Another data set whose objects pretrain the encoder (train.pretrain.datasets): its name, store and feature
    table (None: the model reads no features, or they are extracted from the store)."""

    name: str
    store: str | Path
    features: str | Path | None = None


def pretrain(store_path: str | Path, split_path: str | Path, out_model: str | Path, out_metrics: str | Path,
             workdir: str | Path, *, model: str, seed: int, settings: PretrainSettings, split_seed: int,
             validation_fraction: float, overrides: dict | None = None, band: str | None = None,
             band_sampling: str = "asynchronous", sync_tolerance: float | None = None,
             pretraining: str = "joint", validation_min_per_class: int = 5, stream: StreamConfig = STREAM,
             threads: int | None = None, features_path: str | Path | None = None, dataset: str = "pool",
             corpora: Sequence[Corpus] = (), with_pool: bool = True) -> None:
    """Masked-reconstruction pretraining of the encoder that the data set ``dataset`` (``store_path``, its split
    ``split_path``) fine-tunes: on its pool objects (``with_pool``) and on every object of the ``corpora``, other data
    sets with the same bands; the test objects of ``dataset`` never enter. A stratified share (of each data set and
    class) is held out for early stopping. A per-band multiband model is pretrained jointly (all of it on multiband
    windows) or, with ``pretraining="independent"``, band encoder by band encoder on single-band windows. The card
    records each data set that pretrained it with a checksum of its objects (``pretrained_on``).

    The stores are read through a shuffle buffer of ``stream.memory_mb`` (train/streaming.py), so stores larger
    than memory train; those that fit are read once and train exactly as from memory. Independent pretraining
    reads them whole."""
    use_threads(threads)
    store = LightCurveStore(store_path)
    role = roles(store, split_path)
    card = artifacts.new_card(model, store, overrides, band, band_sampling, sync_tolerance)
    view = functools.partial(sample_bands, band_sampling=card.band_sampling, sync_tolerance=card.sync_tolerance,
                             band=card.band)
    sources = pretraining_sources(store, role, dataset, features_path, corpora, with_pool)
    blocks = Stores({name: path for name, (path, _, _) in sources.items()}, stream.memory_mb)
    candidates = np.concatenate([chosen for _, chosen, _ in sources.values()])
    pool = np.flatnonzero(candidates)
    pool = pool[kept(readable_objects(blocks, view, card.band, stream.workers)[pool], card.band, "pretraining")]
    objects = blocks.objects
    # Strata: each data set's classes (label codes of different data sets name different classes).
    _, strata = np.unique(np.stack([blocks.store_of(np.arange(len(objects))), objects["label"]]), axis=1,
                          return_inverse=True)
    held = held_out(strata.ravel()[pool], validation_fraction, [split_seed, seed], validation_min_per_class)
    table = _joined_tables(card, blocks, sources)
    card = with_feature_norm(card, table, pool[~held], head=False)
    torch.manual_seed(seed)
    encoder = models.build(model, **card.overrides)
    if isinstance(encoder, PerBandFusion):
        card.pretraining = pretraining
    card.seed = seed
    used = np.isin(np.arange(len(objects)), pool)
    card.pretrained_on = {name: _checksum(objects.iloc[blocks.first[s]:blocks.first[s + 1]],
                                          used[blocks.first[s]:blocks.first[s + 1]], LightCurveStore(path))
                          for s, (name, (path, _, _)) in enumerate(sources.items())}
    data = data_id(objects, np.where(used, "pretrain", "unused"))
    run_id = fingerprint(data, card.to_dict(), asdict(settings))
    card.config_hash, card.data = run_id, {"objects": data}
    log.info("pretraining %s (%s) on %d objects of %s (%d validation), reading %s", model,
             card.pretraining or "joint", int((~held).sum()), ", ".join(sources), int(held.sum()),
             "the stores whole" if blocks.fits(pool[~held]) else f"{stream.memory_mb} MB of them at a time")
    if card.pretraining == "independent":
        ragged = view(blocks.load())
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
                                make(view(blocks.load(validation)), np.arange(len(validation))), **settings.masking())
    trainer = Trainer(replace(settings, seed=seed), workdir, run_id=run_id, workers=stream.workers,
                      name=run_name(model, seed))
    trainer.fit(Reconstructor(encoder), task)
    if distributed.is_main():  # under torchrun every rank holds the same weights: one writes them
        artifacts.save_model(out_model, encoder, card)
        finish(trainer, out_metrics)


def pretrain_job(input: dict, output: dict, params: dict, wildcards: dict, threads: int) -> None:
    """The pretrain rule's job from its files, settings (params), wildcards and threads: called by its script, or,
    for one job on several GPUs, by each process torchrun starts (``python -m astroflow.train.pretrain JOB``, JOB
    these as JSON), each with its share of the threads."""
    threads = max(1, threads // int(os.environ.get("LOCAL_WORLD_SIZE", "1")))
    corpora = [Corpus(n, input.get(f"corpus_{n}"), input.get(f"corpus_{n}_features")) for n in params["corpora"]]
    pretrain(input["store"], input["split"], output["model"], output["metrics"], params["workdir"],
             model=wildcards["model"], seed=int(wildcards["seed"]), settings=PretrainSettings(**params["optimiser"]),
             **params["selection"], **params["model"], stream=StreamConfig(**params["stream"]), threads=threads,
             features_path=input.get("features") or None, dataset=wildcards["dataset"], corpora=corpora,
             with_pool=params["with_pool"])


def run_name(model: str, seed: int) -> str:
    """How a pretraining run's log lines name it, e.g. ``astromer-tiny pretraining s0``."""
    return f"{model} pretraining s{seed}"


def pretraining_sources(store: LightCurveStore, role: np.ndarray, dataset: str, features_path: str | Path | None,
                        corpora: Sequence[Corpus], with_pool: bool) -> dict[str, tuple[Path, np.ndarray, Path | None]]:
    """Per data set that pretrains (sorted by name): its store, which of its objects may pretrain (the fine-tuning
    set ``dataset``: its pool; another: all) and its feature table. A corpus whose bands or quantity differ from
    the fine-tuning set's, or that holds its store or source files (its test objects would leak in), is refused."""
    key = "train.pretrain.datasets"
    sources = {dataset: (Path(store.path), role == "pool", features_path)} if with_pool else {}
    own = set(store.attrs["provenance"].get("inputs", {}).values())
    for corpus in corpora:
        other = LightCurveStore(corpus.store)
        if corpus.name in sources or Path(corpus.store).resolve() == Path(store.path).resolve():
            raise ConfigError(key, f"{corpus.name!r} is named twice, or is the fine-tuning set {dataset!r} itself "
                              "(whose pool is pretrained on when it is named: its test objects are left out)")
        if other.bands != store.bands or other.quantity != store.quantity:
            raise ConfigError(key, f"data set {corpus.name!r} has bands {other.bands} ({other.quantity}), the "
                              f"fine-tuning set {dataset!r} has {store.bands} ({store.quantity}): the data sets an "
                              "encoder is pretrained on must have the bands of the one it fine-tunes, in the same order")
        shared = own & set(other.attrs["provenance"].get("inputs", {}).values())
        if shared:
            raise ConfigError(key, f"data set {corpus.name!r} is made from {len(shared)} of the same source files as "
                              f"the fine-tuning set {dataset!r}, so its test objects would be pretrained on: name "
                              f"{dataset!r} itself instead (its pool pretrains, its test objects are left out)")
        sources[corpus.name] = (Path(corpus.store), np.ones(len(other), dtype=bool), corpus.features)
    if not sources:
        raise ConfigError(key, "no data set to pretrain on")
    return dict(sorted(sources.items()))


def _joined_tables(card, blocks: Stores, sources: dict) -> pd.DataFrame | None:
    """The feature tables of the data sets one after another, with ``blocks``' object ids (None: the model reads
    no features)."""
    tables = [feature_table(card, features, LightCurveStore(path)) for path, _, features in sources.values()]
    if tables[0] is None:
        return None
    return pd.concat([t.assign(object_id=blocks.named(s, t["object_id"])) for s, t in enumerate(tables)],
                     ignore_index=True)


def _checksum(objects: pd.DataFrame, used: np.ndarray, store: LightCurveStore) -> str:
    """sha256 of which objects of a data set pretrained (ids, sizes, labels) and of its store's source files."""
    inputs = json.dumps(store.attrs["provenance"].get("inputs", {}), sort_keys=True)
    return hashlib.sha256((data_id(objects, np.where(used, "pretrain", "unused")) + inputs).encode()).hexdigest()


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


if __name__ == "__main__":  # one process of a torchrun job (the pretrain_torchrun rule): its job as JSON
    from astroflow.logs import logged

    with logged():
        pretrain_job(**json.loads(sys.argv[1]))
