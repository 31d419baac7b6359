"""Sampled class probabilities p[t, c] of every object, by the uncertainty methods of Cadiz-Leyton et al. (2025).

- deterministic: one pass in eval mode (the baseline: its score is 1 - max p);
- mc_dropout: T passes with dropout active at inference (MC Dropout, Gal & Ghahramani 2016);
- hsa: T passes of a model with hierarchical stochastic attention (models/stochastic_attention.py), dropout off;
- ha_mc_dropout: T passes of such a model with dropout on as well;
- ensemble: one deterministic pass of each of M independently seeded models.

The T passes run as one forward over a T-times repeated batch (each copy draws its own dropout masks and Gumbel
noise), cut into fewer passes per forward only when the repeated batch would exceed ``max_rows`` rows.
"""
from __future__ import annotations

import logging

import numpy as np
import torch
from torch import Tensor, nn
from torch.nn.modules.batchnorm import _BatchNorm

from astroflow.errors import ConfigError
from astroflow.models.stochastic_attention import StochasticAttention
from astroflow.train.inference import per_object
from astroflow.uncertainty import METHODS

log = logging.getLogger("astroflow.uncertainty")
WITH_DROPOUT = ("mc_dropout", "ha_mc_dropout")
WITH_HSA = ("hsa", "ha_mc_dropout")  # the methods of a model trained with stochastic attention


def has_stochastic_attention(model: nn.Module) -> bool:
    return any(isinstance(m, StochasticAttention) for m in model.modules())


def check_method(method: str, model: nn.Module, name: str = "model") -> None:
    """Refuse a method the model cannot give: hsa methods need stochastic attention, the others need none (such a
    model is never deterministic)."""
    if method not in METHODS:
        raise ConfigError("uncertainty.methods", f"unknown method {method!r} (methods: {', '.join(METHODS)})")
    if (method in WITH_HSA) != has_stochastic_attention(model):
        need = "a model with hierarchical stochastic attention (a *-hsa preset)" if method in WITH_HSA else (
            "a model without stochastic attention (its methods are hsa and ha_mc_dropout)")
        raise ConfigError("uncertainty.methods", f"{method} needs {need}; {name} is not one")


def set_sampling(model: nn.Module, dropout: bool) -> nn.Module:
    """Eval mode, with every module but batch norm switched to training behaviour when ``dropout`` (so dropout,
    including a frozen encoder's, samples at inference); returns the model."""
    model.eval()
    if dropout:
        for module in model.modules():
            module.training = not isinstance(module, _BatchNorm)
    return model


def repeated_passes(model: nn.Module, batch: dict[str, Tensor], passes: int, max_rows: int) -> Tensor:
    """Softmax probabilities (B, passes, C) of ``passes`` forwards of ``batch``, run as few forwards of the batch
    repeated along its first axis as ``max_rows`` allows."""
    rows = len(next(iter(batch.values())))
    group = max(1, min(passes, max_rows // max(rows, 1)))
    out = []
    for start in range(0, passes, group):
        n = min(group, passes - start)
        repeated = {key: value.repeat(n, *[1] * (value.dim() - 1)) for key, value in batch.items()}
        out.append(model(repeated).float().softmax(dim=-1).view(n, rows, -1))
    return torch.cat(out).transpose(0, 1)


def sample(model: nn.Module, inputs, passes: int, dropout: bool, batch_size: int = 256, max_rows: int = 1024,
           device: torch.device | None = None) -> np.ndarray:
    """(N, passes, C) probabilities of the objects of ``inputs`` (model_inputs of the model), each pass averaged
    over an object's windows. Seed torch first for repeatable draws."""
    set_sampling(model, dropout)
    try:
        return per_object(lambda batch: repeated_passes(model, batch, passes, max_rows), inputs, batch_size, device)
    finally:
        model.eval()


def method_samples(method: str, members: list[nn.Module], inputs, passes: int, batch_size: int = 256,
                   max_rows: int = 1024, device: torch.device | None = None) -> np.ndarray:
    """(N, T, C) probabilities of ``method``: the ensemble's members (one pass each), or ``passes`` draws of the
    single model in ``members``."""
    for i, model in enumerate(members):
        check_method(method, model, f"model {i}")
    if method == "ensemble":
        return np.concatenate([sample(m, inputs, 1, False, batch_size, max_rows, device) for m in members], axis=1)
    if len(members) != 1:
        raise ConfigError("uncertainty.methods", f"{method} samples one model, not {len(members)}")
    return sample(members[0], inputs, 1 if method == "deterministic" else passes, method in WITH_DROPOUT,
                  batch_size, max_rows, device)
