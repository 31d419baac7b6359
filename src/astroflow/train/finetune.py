"""The finetune rule: a classifier trained on a labelled subset, from a pretrained encoder or from scratch."""
from __future__ import annotations

import hashlib
import logging
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch import nn

from astroflow import models
from astroflow.errors import ConfigError
from astroflow.models.vision import ImageClassifier, load_pretrained
from astroflow.store import LightCurveStore
from astroflow.train import artifacts
from astroflow.train.data import sample_bands
from astroflow.train.inputs import model_inputs
from astroflow.train.split import known_classes, labelled_objects, recode, roles, usable
from astroflow.train.tabular import feature_table, with_feature_norm
from astroflow.train.tasks import Classification
from astroflow.train.trainer import TrainConfig, Trainer, data_id, fingerprint, finish, use_threads

log = logging.getLogger(__name__)


@dataclass
class FinetuneSettings(TrainConfig):
    """train.finetune: the optimisation, the head and the class balance (defaults the schema's)."""

    max_steps: int = 1500
    checkpoint_every: int = 100
    patience: int = 4
    balanced: bool = True  # draw every class equally often
    head: str = "layers"  # astroflow.models.card.HEADS
    head_hidden: list[int] = field(default_factory=lambda: [256, 128])
    aux_weight: float = 0.01


def finetune(store_path: str | Path, split_path: str | Path, pretrained: str | Path | None, out_model: str | Path,
             out_split: str | Path, out_metrics: str | Path, workdir: str | Path, *, model: str, init: str,
             n_per_class: str, fold: int, seed: int, settings: FinetuneSettings, split_seed: int,
             validation_fraction: float, overrides: dict | None = None, band: str | None = None,
             band_sampling: str = "asynchronous", sync_tolerance: float | None = None, image: dict | None = None,
             validation_min_per_class: int = 5, threads: int | None = None,
             features_path: str | Path | None = None, held_out_classes: list[str] = ()) -> None:
    """Train a classifier on ``n_per_class`` labelled pool objects of each class (fold ``fold``'s draw): from the
    pretrained encoder (``pretrained``: fine-tuned; ``frozen``: kept fixed) or from scratch. Writes which objects
    trained and validated to ``out_split``. The classes ``held_out_classes`` are left out: none of their objects
    trains or validates, and the model learns the other classes only."""
    use_threads(threads)
    store = LightCurveStore(store_path)
    role = roles(store, split_path)
    classes = known_classes(store.class_names, list(held_out_classes))
    torch.manual_seed(seed)
    classifier_kind = models.kind(model) == "classifier"
    if classifier_kind or init == "scratch":
        card = artifacts.new_card(model, store, overrides, band, band_sampling, sync_tolerance, image, classes)
        encoder = models.build(model, **card.overrides)
        if classifier_kind and init != "scratch":
            start_from_image_weights(encoder, model, init, pretrained)
    else:
        encoder, card = artifacts.load_model(pretrained)
        if card.bands != store.bands:
            raise ConfigError("train", f"{pretrained} was pretrained on bands {card.bands}, not {store.bands}")
        if card.band is None:  # a model reading all bands samples them as this run says
            card = replace(card, band_sampling=band_sampling, sync_tolerance=sync_tolerance)
    ragged = sample_bands(store.load(), card.band_sampling, card.sync_tolerance, card.band)
    chosen, held = labelled_objects(ragged.label, np.flatnonzero(role == "pool"), n_per_class, fold, split_seed,
                                    validation_fraction, validation_min_per_class,
                                    [store.class_names.index(name) for name in held_out_classes])
    keep = np.isin(chosen, usable(ragged, chosen, card.band, "labelled"))
    chosen, held = chosen[keep], held[keep]
    pd.DataFrame({"object_id": ragged.object_id[chosen], "label": ragged.label[chosen],
                  "role": np.where(held, "validation", "train")}).to_parquet(out_split, index=False)
    # labels as the model's class codes (those of held-out classes -1, never drawn)
    ragged = replace(ragged, label=recode(ragged.label, store.class_names, classes), class_names=classes)

    card = replace(card, kind="classifier", init=init, n_per_class=str(n_per_class), fold=fold, seed=seed,
                   class_names=classes, **store.reading,
                   **({} if classifier_kind else {"head": settings.head, "head_hidden": list(settings.head_hidden),
                                                  "freeze_encoder": init == "frozen"}))
    table = feature_table(card, features_path, store)
    card = with_feature_norm(card, table, chosen[~held])
    classifier = artifacts.build_classifier(encoder, card)
    task = Classification(model_inputs(ragged, chosen[~held], card, augment=True, table=table),
                          model_inputs(ragged, chosen[held], card, table=table),
                          settings.batch_size, settings.balanced, settings.aux_weight)
    objects = data_id(ragged, role)
    run_id = fingerprint(objects, card.to_dict(), asdict(settings), n_per_class, fold, file_id(pretrained))
    card = replace(card, config_hash=run_id, data={"objects": objects, "pretrained": file_id(pretrained)})
    trainer = Trainer(replace(settings, seed=seed), workdir, run_id=run_id,
                      name=f"{model} {init} n{n_per_class} f{fold} s{seed}")
    log.info("fine-tuning %s (%s) on %d objects (%d validation), %s", model, init, int((~held).sum()),
             int(held.sum()), trainer.device)
    trainer.fit(classifier, task)
    artifacts.save_model(out_model, classifier, replace(card, train_seconds=round(trainer.seconds, 2)))
    finish(trainer, out_metrics)


def file_id(path: str | Path | None) -> str:
    """The sha256 of the file a run starts from; a source that is not a file (hub) stands for itself."""
    if not path:
        return ""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest() if Path(path).is_file() else str(path)


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
