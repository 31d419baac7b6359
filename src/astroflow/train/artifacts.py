"""Trained models on disk: weights plus what rebuilds them (preset, settings, bands, classes, window, cleaning).

One file per model, a dict of tensors and plain values, so ``torch.load(..., weights_only=True)`` reads it and
no pickled code is ever run.
"""
from __future__ import annotations

import pickle
import struct
from pathlib import Path

import torch
from torch import nn

from astroflow import models
from astroflow.errors import InputError
from astroflow.models.heads import MLP_HIDDEN, Classifier, LayerWeightedHead, MeanPoolHead


def build_encoder(meta: dict) -> nn.Module:
    return models.build(meta["model"], **meta.get("overrides", {}))


def build_classifier(encoder: nn.Module, meta: dict) -> nn.Module:
    """A classifier model as it is (models.kind ``classifier``); an encoder gets the head ``meta["head"]``
    (``layers``: Astromer 2's layer-weighted head; ``mean``: mean pooling of the last layer) for
    ``meta["class_names"]``."""
    if models.kind(meta["model"]) == "classifier":
        return encoder
    dim, n_classes = encoder.config.dim, len(meta["class_names"])
    hidden = tuple(meta.get("head_hidden", MLP_HIDDEN))
    if meta["head"] == "layers":
        head = LayerWeightedHead(dim, encoder.n_hidden, n_classes, hidden)
    elif meta["head"] == "mean":
        head = MeanPoolHead(dim, n_classes, hidden)
    else:
        raise ValueError(f"unknown head {meta['head']!r} (layers or mean)")
    return Classifier(encoder, head, freeze_encoder=meta.get("freeze_encoder", False))


def save_model(path: str | Path, model: nn.Module, meta: dict) -> None:
    """Write ``model``'s weights and ``meta`` (plain values only) to ``path``."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    torch.save({"meta": meta, "state": model.state_dict()}, path)


def load_model(path: str | Path) -> tuple[nn.Module, dict]:
    """The model saved at ``path`` (a pretrained encoder, or a classifier when ``meta["kind"] == "classifier"``),
    on the CPU, in eval mode, and its meta."""
    try:
        saved = torch.load(path, map_location="cpu", weights_only=True)
        meta = saved["meta"]
    except (pickle.UnpicklingError, struct.error, EOFError, RuntimeError, KeyError, TypeError) as error:
        raise InputError(path, "is not an astroflow PyTorch model (model.pt of a pretrain or finetune run; the "
                         f"forest's model.joblib is scored by its own rules) ({type(error).__name__})") from error
    model = build_encoder(meta)
    if meta["kind"] == "classifier":
        model = build_classifier(model, meta)
    model.load_state_dict(saved["state"])
    return model.eval(), meta
