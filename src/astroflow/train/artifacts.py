"""Trained networks on disk: the card a new model gets, and the model rebuilt from a saved card and weights.

One file per model (astroflow.models.card): a dict of tensors and plain values, so ``torch.load(...,
weights_only=True)`` reads it and no pickled code is ever run.
"""
from __future__ import annotations

from pathlib import Path

from torch import nn

from astroflow import models
from astroflow.errors import AstroflowError, ConfigError, InputError
from astroflow.models import card as cards
from astroflow.models.card import ModelCard
from astroflow.models.heads import MLP_HIDDEN, Classifier, LayerWeightedHead, MeanPoolHead
from astroflow.models.vision import VisionConfig
from astroflow.store import LightCurveStore
from astroflow.train.tabular import feature_columns


def new_card(name: str, store: LightCurveStore, overrides: dict | None = None, band: str | None = None,
             band_sampling: str = "asynchronous", sync_tolerance: float | None = None,
             image: dict | None = None, class_names: list[str] | None = None) -> ModelCard:
    """The card of a new model of preset ``name`` for ``store``: its settings (band count from the store for
    multiband presets; band, class and feature counts for classifiers), what it reads (an encoder's window and band,
    None: all bands, or every band apart for a single-band encoder without one; band sampling of models reading all bands; an image model's drawing settings, layout and size the
    preset's) and the store's cleaning. A classifier learns ``class_names`` (default: the store's classes)."""
    overrides = dict(overrides or {})
    preset = models.model_config(name, **overrides)
    common = {"model": name, "architecture": models.architecture(name).__name__, "bands": list(store.bands),
              "quantity": store.quantity, **store.reading}
    if models.kind(name) == "classifier":
        class_names = list(store.class_names if class_names is None else class_names)
        overrides |= {"n_bands": len(store.bands), "n_classes": len(class_names)}
        if getattr(preset, "features", "none") != "none":
            overrides["n_features"] = len(feature_columns(preset.features, list(store.bands)))
        drawn = {**(image or {}), "layout": preset.layout, "size": preset.image_size} if isinstance(
            preset, VisionConfig) else None
        return ModelCard(**common, kind="classifier", overrides=overrides, class_names=class_names,
                         image=drawn)
    multiband = preset.n_bands > 0
    if multiband:
        overrides["n_bands"] = len(store.bands)
    if not multiband and band is not None and band not in store.bands:
        raise ConfigError("train.band", f"band {band!r} is not one of the store's bands {store.bands}")
    apart = not multiband and band is None  # a single-band model reads every band, each as a light curve
    sampling = {"band_sampling": band_sampling, "sync_tolerance": sync_tolerance} if multiband else {}
    return ModelCard(**common, kind="encoder", overrides=overrides, bands_apart=apart,
                     band=None if multiband or apart else store.bands.index(band), window=preset.window,
                     normalisation="window_mean", **sampling)


def build_encoder(card: ModelCard) -> nn.Module:
    return models.build(card.model, **card.overrides)


def build_classifier(encoder: nn.Module, card: ModelCard) -> nn.Module:
    """A classifier model as it is (models.kind ``classifier``); an encoder gets the head ``card.head``
    (``layers``: Astromer 2's layer-weighted head; ``mean``: mean pooling of the last layer) for
    ``card.class_names``, reading the light-curve features of ``card.feature_norm`` too when it names any."""
    if models.kind(card.model) == "classifier":
        return encoder
    dim, n_classes = encoder.config.dim, len(card.class_names)
    hidden = tuple(card.head_hidden or MLP_HIDDEN)
    n_features = len((card.feature_norm or {}).get("columns", []))
    if card.head == "layers":
        head = LayerWeightedHead(dim, encoder.n_hidden, n_classes, hidden, n_features=n_features)
    else:
        head = MeanPoolHead(dim, n_classes, hidden, n_features=n_features)
    return Classifier(encoder, head, freeze_encoder=card.freeze_encoder)


def save_model(path: str | Path, model: nn.Module, card: ModelCard) -> None:
    """Write ``model``'s weights and its card to ``path``."""
    cards.save(path, model.state_dict(), card)


def load_model(path: str | Path) -> tuple[nn.Module, ModelCard]:
    """The model saved at ``path`` (a pretrained encoder, or a classifier when ``card.kind == "classifier"``),
    on the CPU, in eval mode, and its card."""
    state, card = cards.load(path)
    try:
        if not isinstance(card.overrides, dict):
            raise TypeError("the card's overrides must be a mapping")
        models.check_size(card.model, **card.overrides)
        model = build_encoder(card)
        if card.kind == "classifier":
            model = build_classifier(model, card)
        model.load_state_dict(state)
    except (AstroflowError, KeyError, TypeError, ValueError, RuntimeError) as error:
        raise InputError(path, f"its model settings do not build the network it holds: {error}") from None
    return model.eval(), card
