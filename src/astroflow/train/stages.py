"""The training stages of the workflow, one function per rule: split, pretrain, finetune, evaluate, encode.

Each reads the light-curve store into memory (astroflow.ragged.Ragged) and the config's ``train`` section; a
run's checkpoints live in a work folder beside its outputs, so a killed job resumes where it stopped.
"""
from __future__ import annotations

import hashlib
import logging
import shutil
import time
from dataclasses import fields
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import xarray as xr
from torch import nn

from astroflow import models
from astroflow.datasets import resolve
from astroflow.errors import ConfigError
from astroflow.models.multiband import PerBandFusion
from astroflow.models.vision import ImageClassifier, VisionConfig, load_pretrained
from astroflow.store import LightCurveStore, atomic_path, consolidate
from astroflow.train import artifacts
from astroflow.train.data import (
    Windows,
    band_objects,
    labelled_subset,
    parse_n_per_class,
    readable,
    sample_bands,
    stratified_split,
    test_split,
)
from astroflow.train.inference import embed, predict_proba
from astroflow.train.inputs import model_inputs
from astroflow.train.metrics import write_evaluation
from astroflow.train.tasks import Classification, MaskedReconstruction, Reconstructor
from astroflow.train.trainer import TrainConfig, Trainer, fingerprint, model_device, use_threads

log = logging.getLogger("astroflow.train")
INITS = ("pretrained", "frozen", "scratch")  # full fine-tuning of a pretrained encoder, frozen encoder, none
PRETRAININGS = ("joint", "independent")  # of a per-band multiband model: all of it at once, or band encoders alone


def train_config(section: dict, seed: int) -> TrainConfig:
    """The optimisation settings of a train.pretrain / train.finetune section, with the run's seed."""
    known = {f.name for f in fields(TrainConfig)}
    return TrainConfig(**{k: v for k, v in section.items() if k in known}, seed=seed)


def model_meta(train: dict, name: str, store: LightCurveStore, image: dict | None = None) -> dict:
    """What builds the model for this store: preset, its settings (band count from the store for multiband
    presets; band and class counts for classifiers), the band its windows take (None: all bands merged), for
    multiband encoders the band sampling, for image models how images are drawn (``image``: represent.image
    settings; layout and size are the model's)."""
    overrides = dict(train.get("model_overrides", {}).get(name, {}))
    preset = models.model_config(name, **overrides)
    if models.kind(name) == "classifier":
        overrides |= {"n_bands": len(store.bands), "n_classes": len(store.class_names)}
        meta = {"model": name, "overrides": overrides, "bands": list(store.bands), "band": None,
                "quantity": store.quantity}
        if isinstance(preset, VisionConfig):
            meta["image"] = {**(image or {}), "layout": preset.layout, "size": preset.image_size}
        return meta
    multiband = preset.n_bands > 0
    if multiband:
        overrides["n_bands"] = len(store.bands)
    band = train.get("band") or store.bands[0]
    if not multiband and band not in store.bands:
        raise ConfigError("train.band", f"band {band!r} is not one of the store's bands {store.bands}")
    return {"model": name, "overrides": overrides, "bands": list(store.bands),
            "band": None if multiband else store.bands.index(band),
            "window": preset.window, "quantity": store.quantity} | sampling_meta(train, multiband)


def sampling_meta(train: dict, multiband: bool) -> dict:
    """How a multiband model samples the bands (train.band_sampling, train.sync_tolerance); nothing otherwise."""
    if not multiband:
        return {}
    return {"band_sampling": train["band_sampling"], "sync_tolerance": train["sync_tolerance"]}


def usable(ragged, index: np.ndarray, meta: dict, what: str) -> np.ndarray:
    """The objects of ``index`` with anything for the model to read; the others are left out of training, logged."""
    keep = readable(ragged, index, meta["band"])
    if not keep.all():
        log.warning("%d %s objects have no observation the model reads (band %s, %s sampling): left out",
                    int((~keep).sum()), what, meta["band"], meta.get("band_sampling", "asynchronous"))
    return index[keep]


def make_split(config: dict, store_path: str | Path, out: str | Path) -> None:
    """Record the held-out test objects (the store's own test split, else a stratified draw)."""
    train = config["train"]
    store = LightCurveStore(store_path)
    table = test_split(store.objects, train["test_fraction"], train["split_seed"])
    table.to_parquet(out, index=False)
    log.info("%d test objects, %d in the pool", int((table.role == "test").sum()), int((table.role == "pool").sum()))


def same_objects(object_id, other_id, path: str | Path, other: str | Path) -> None:
    """Refuse a table at ``path`` whose objects are not ``other``'s, in the same order (made from another store)."""
    if not np.array_equal(np.asarray(object_id, dtype=str), np.asarray(other_id, dtype=str)):
        raise ConfigError("train", f"{path} does not list the objects of {other}: rebuild it")


def roles(store: LightCurveStore, split_path: str | Path) -> np.ndarray:
    """Each store object's role in the split file (test or pool), checked to list the same objects."""
    split = pd.read_parquet(split_path)
    same_objects(split["object_id"], store.objects["object_id"], split_path, store.path)
    return split["role"].to_numpy()


def labelled_objects(labels: np.ndarray, pool: np.ndarray, n_per_class: str | int, fold: int,
                     train: dict) -> tuple[np.ndarray, np.ndarray]:
    """The objects every classifier of a comparison learns from: fold ``fold``'s draw of ``n_per_class`` labelled
    ``pool`` objects per class, and which of them are held out for validation (early stopping; the forest leaves
    them unused)."""
    n = parse_n_per_class(n_per_class)
    chosen = labelled_subset(labels, pool, n, train["split_seed"], fold)
    return chosen, held_out(labels[chosen], train["validation_fraction"], [train["split_seed"], fold, n or 0])


def scored_objects(store: LightCurveStore, split_path: str | Path, class_names: list[str],
                   model_path: str | Path) -> np.ndarray:
    """The labelled test objects the model at ``model_path`` (of ``class_names``) is scored on."""
    if class_names != store.class_names:
        raise ConfigError("train", f"{model_path} classifies {class_names}, the store has {store.class_names}")
    label = store.objects["label"].to_numpy()
    test = np.flatnonzero((roles(store, split_path) == "test") & (label >= 0))
    if not len(test):
        raise ConfigError("train.test_fraction", f"no labelled test objects in {store.path}")
    return test


def held_out(labels: np.ndarray, fraction: float, seed: list[int]) -> np.ndarray:
    """The validation share of training objects (stratified); a clear error when either side would be empty."""
    held = stratified_split(labels, fraction, seed)
    if held.all() or not held.any():
        raise ConfigError("train.validation_fraction", f"{len(labels)} objects cannot be split into training and "
                          f"validation objects (with {int(np.sum(labels >= 0))} labelled; n_per_class too small?)")
    return held


def data_id(ragged, role: np.ndarray) -> str:
    """A hash of the objects, their sizes, labels and roles: a checkpoint of other data is never resumed."""
    h = hashlib.sha256()
    for part in (ragged.object_id.astype(str), ragged.row_size, ragged.label, role.astype(str)):
        h.update("\x1f".join(map(str, part)).encode())
    return h.hexdigest()


def file_id(path: str | Path | None) -> str:
    """The sha256 of the file a run starts from; a source that is not a file (hub) stands for itself."""
    if not path:
        return ""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest() if Path(path).is_file() else str(path)


def finish(trainer: Trainer, out_metrics: str | Path) -> None:
    """Keep the run's metrics as an output and drop its checkpoint folder: checkpoints exist for unfinished runs."""
    shutil.copyfile(trainer.metrics_path, out_metrics)
    shutil.rmtree(trainer.workdir)


def pretrain(config: dict, dataset: str, model: str, seed: int, store_path: str | Path, split_path: str | Path,
             out_model: str | Path, out_metrics: str | Path, workdir: str | Path, threads: int | None = None) -> None:
    """Masked-reconstruction pretraining on the pool objects, a stratified share of them held out for early
    stopping. A per-band multiband model is pretrained jointly (all of it on multiband windows) or, with
    ``train.multiband_pretraining: independent``, band encoder by band encoder on single-band windows."""
    use_threads(threads)
    train = config["train"]
    store = LightCurveStore(store_path)
    role = roles(store, split_path)
    meta = {**model_meta(train, model, store), "kind": "encoder", "clean": _cleaning(config, dataset)}
    ragged = sample_bands(store.load(), meta)
    pool = usable(ragged, np.flatnonzero(role == "pool"), meta, "pool")
    held = held_out(ragged.label[pool], train["validation_fraction"], [train["split_seed"], seed])
    section = train["pretrain"]
    torch.manual_seed(seed)
    encoder = models.build(model, **meta["overrides"])
    if isinstance(encoder, PerBandFusion):
        meta["pretraining"] = train["multiband_pretraining"]
        if meta["pretraining"] not in PRETRAININGS:
            raise ConfigError("train.multiband_pretraining", f"{meta['pretraining']!r} is not one of {PRETRAININGS}")
    run_id = fingerprint(data_id(ragged, role), meta, section)
    log.info("pretraining %s (%s) on %d objects (%d validation)", model, meta.get("pretraining", "joint"),
             int((~held).sum()), int(held.sum()))
    if meta.get("pretraining") == "independent":
        metrics = pretrain_band_encoders(encoder, ragged, pool[~held], pool[held], meta["window"], section, seed,
                                         workdir, run_id)
        artifacts.save_model(out_model, encoder, meta)
        metrics.to_csv(out_metrics, index=False)
        shutil.rmtree(workdir)
        return
    task = MaskedReconstruction(model_inputs(ragged, pool[~held], meta), model_inputs(ragged, pool[held], meta),
                                **_reconstruction(section))
    trainer = Trainer(train_config(section, seed), workdir, run_id=run_id)
    trainer.fit(Reconstructor(encoder), task)
    artifacts.save_model(out_model, encoder, meta)
    finish(trainer, out_metrics)


def _reconstruction(section: dict) -> dict:
    """MaskedReconstruction's settings from train.pretrain."""
    return {k: section[k] for k in ("batch_size", "probe", "random", "same", "weight_by_error", "aux_weight")}


def pretrain_band_encoders(encoder: PerBandFusion, ragged, train_index: np.ndarray, validation_index: np.ndarray,
                           window: int, section: dict, seed: int, workdir: str | Path, run_id: str) -> pd.DataFrame:
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
                                    _single_band(singles, validation_index, bands, window), **_reconstruction(section))
        trainer = Trainer(train_config(section, seed), Path(workdir) / f"encoder{i}", run_id=fingerprint(run_id, i))
        trainer.fit(Reconstructor(band_encoder), task)
        tables.append(pd.read_csv(trainer.metrics_path).assign(encoder=i))
    return pd.concat(tables, ignore_index=True)


def _single_band(singles, index: np.ndarray, bands: np.ndarray, window: int) -> Windows:
    """Windows of the ``bands`` light curves of objects ``index`` in band_objects' ``singles`` (empty ones left out)."""
    pairs = (index[:, None] * len(singles.bands) + bands).ravel()
    return Windows(singles, pairs[singles.row_size[pairs] > 0], window, None)


def finetune(config: dict, dataset: str, model: str, init: str, n_per_class: str, fold: int, seed: int,
             store_path: str | Path, split_path: str | Path, pretrained: str | Path | None, out_model: str | Path,
             out_split: str | Path, out_metrics: str | Path, workdir: str | Path, threads: int | None = None) -> None:
    """Train a classifier on ``n_per_class`` labelled pool objects of each class (fold ``fold``'s draw): from the
    pretrained encoder (``pretrained``: fine-tuned; ``frozen``: kept fixed) or from scratch. Writes which objects
    trained and validated to ``out_split``."""
    use_threads(threads)
    if init not in INITS:
        raise ConfigError("train.init", f"{init!r} is not one of {INITS}")
    train = config["train"]
    store = LightCurveStore(store_path)
    role = roles(store, split_path)
    section = train["finetune"]
    torch.manual_seed(seed)
    classifier_kind = models.kind(model) == "classifier"
    if classifier_kind or init == "scratch":
        meta = model_meta(train, model, store, config["represent"]["image"])
        encoder = models.build(model, **meta["overrides"])
        if classifier_kind and init != "scratch":
            start_from_image_weights(encoder, model, init, pretrained)
    else:
        encoder, meta = artifacts.load_model(pretrained)
        if meta["bands"] != store.bands:
            raise ConfigError("train", f"{pretrained} was pretrained on bands {meta['bands']}, not {store.bands}")
        meta = {**meta, **sampling_meta(train, meta["band"] is None)}
    ragged = sample_bands(store.load(), meta)
    chosen, held = labelled_objects(ragged.label, np.flatnonzero(role == "pool"), n_per_class, fold, train)
    keep = np.isin(chosen, usable(ragged, chosen, meta, "labelled"))
    chosen, held = chosen[keep], held[keep]
    pd.DataFrame({"object_id": ragged.object_id[chosen], "label": ragged.label[chosen],
                  "role": np.where(held, "validation", "train")}).to_parquet(out_split, index=False)

    meta = {**meta, "kind": "classifier", "init": init, "n_per_class": str(n_per_class), "fold": fold, "seed": seed,
            "class_names": list(store.class_names),
            "head": section["head"], "head_hidden": list(section["head_hidden"]), "freeze_encoder": init == "frozen",
            "clean": _cleaning(config, dataset)}
    classifier = artifacts.build_classifier(encoder, meta)
    task = Classification(model_inputs(ragged, chosen[~held], meta, augment=True),
                          model_inputs(ragged, chosen[held], meta),
                          section["batch_size"], section["balanced"], section["aux_weight"])
    trainer = Trainer(train_config(section, seed), workdir,
                      run_id=fingerprint(data_id(ragged, role), meta, section, n_per_class, fold, file_id(pretrained)))
    log.info("fine-tuning %s (%s) on %d objects (%d validation), %s", model, init, int((~held).sum()),
             int(held.sum()), trainer.device)
    trainer.fit(classifier, task)
    artifacts.save_model(out_model, classifier, meta)
    finish(trainer, out_metrics)


def start_from_image_weights(model: nn.Module, name: str, init: str, source: str | Path | None) -> None:
    """Load the pretrained image weights (a file, or hub) an image model's ``pretrained`` init starts from; the other
    classifiers have no pretrained encoder and train from scratch only."""
    image = isinstance(model, ImageClassifier)
    if not image or init != "pretrained":
        raise ConfigError("train.init", f"{name} has no pretrained encoder: it trains from scratch"
                          + (" or pretrained image weights" if image else "") + f", not {init!r}")
    if not source:
        raise ConfigError("train.image_weights", f"no pretrained weights for {name}: name a weights file (or hub) "
                          "for it in train.image_weights")
    load_pretrained(model, source)


def evaluate(model_path: str | Path, store_path: str | Path, split_path: str | Path, out_predictions: str | Path,
             out_metrics: str | Path, batch_size: int = 256, threads: int | None = None) -> None:
    """Class probabilities of every test object, and the scores (metrics.classification_metrics)."""
    use_threads(threads)
    store = LightCurveStore(store_path)
    classifier, meta = artifacts.load_model(model_path)
    test = scored_objects(store, split_path, meta["class_names"], model_path)
    ragged = sample_bands(store.load(), meta)
    blind = int((~readable(ragged, test, meta["band"])).sum())
    if blind:  # scored all the same: leaving them out would flatter the model
        log.warning("%d test objects have no observation the model reads; classified from an empty window", blind)
    start = time.monotonic()
    probs = predict_proba(classifier, model_inputs(ragged, test, meta), batch_size, model_device(classifier))
    log.info("%d test objects classified in %.1f s", len(test), time.monotonic() - start)
    write_evaluation(ragged.object_id[test], ragged.label[test], probs, meta, out_predictions, out_metrics)


def encode(model_path: str | Path, store_path: str | Path, out: str | Path, batch_size: int = 256,
           threads: int | None = None) -> None:
    """Embeddings of every object of the store (every hidden state, mean-pooled and averaged over the object's
    windows) as a Zarr store with dimensions (object, layer, feature)."""
    use_threads(threads)
    model, meta = artifacts.load_model(model_path)
    encoder = model.encoder if meta["kind"] == "classifier" else model
    store = LightCurveStore(store_path)
    ragged = sample_bands(store.load(), meta)
    values = embed(encoder, model_inputs(ragged, np.arange(len(ragged)), meta), batch_size, model_device(encoder))
    ds = xr.Dataset({"embedding": (("object", "layer", "feature"), values.astype(np.float32)),
                     "object_id": ("object", ragged.object_id.astype(object)), "label": ("object", ragged.label)},
                    attrs={"model": meta["model"], "source": str(model_path), "class_names": store.class_names})
    with atomic_path(out) as tmp:
        ds.to_zarr(tmp, consolidated=False)
        consolidate(tmp)


def _cleaning(config: dict, dataset: str) -> dict:
    """The cleaning the data set went through, so predict cleans a new catalogue the same way."""
    return dict(resolve(dataset, config, config["results"]).clean)
