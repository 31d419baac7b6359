"""Recurrent classifier of dt/dm steps (Becker et al. 2020, arXiv:2002.00994).

Each band's light curve is a sequence of steps of ``window`` consecutive time and magnitude differences
(represent/dtdm.py ``dtdm_rnn``). A stacked GRU reads every band with the same weights; the output at each band's
last real step goes, bands concatenated, through dropout into the dense layer giving the class logits (with
``features``, next to a FeatureBranch of the object's light-curve features). The
differences are compressed with asinh (about linear below 1, logarithmic above), so that seasonal gaps of
hundreds of days and flux jumps of a transient do not swamp the steps within a night.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from astroflow.models.layers import Batch, FeatureBranch


@dataclass
class RNNConfig:
    """Sizes of the GRU classifier and of the steps it reads."""

    hidden: int = 64
    layers: int = 2
    dropout: float = 0.3
    window: int = 4  # differences per step: a step holds window dt and window dm values
    stride: int = 2
    max_steps: int = 200  # steps read per band; longer light curves are cut (randomly placed when training)
    n_classes: int = 0
    n_bands: int = 1
    features: str = "none"  # light-curve features also read (train/tabular.py): none, period or all
    n_features: int = 0  # their count, filled in from the data


class DtDmGRU(nn.Module):
    def __init__(self, config: RNNConfig):
        super().__init__()
        self.config = config
        self.gru = nn.GRU(2 * config.window, config.hidden, num_layers=config.layers, batch_first=True,
                          dropout=config.dropout if config.layers > 1 else 0.0)
        self.drop = nn.Dropout(config.dropout)
        self.extra = FeatureBranch(config.n_features) if config.n_features else None
        width = config.n_bands * config.hidden + (self.extra.width if self.extra else 0)
        self.out = nn.Linear(width, config.n_classes)

    def forward(self, batch: Batch) -> Tensor:
        steps, mask = batch["steps"], batch["steps_mask"]  # (B, bands, S, F), (B, bands, S)
        b, n_bands, s, f = steps.shape
        output, _ = self.gru(torch.asinh(steps.reshape(b * n_bands, s, f)))
        length = mask.reshape(b * n_bands, s).sum(dim=1)
        # The GRU reads left to right, so its output at the last real step has seen no padding.
        last = output[torch.arange(b * n_bands, device=steps.device), (length - 1).clamp_min(0)]
        last = last * (length > 0).to(last.dtype)[:, None]  # a band without steps contributes zeros
        x = self.drop(last.reshape(b, n_bands * self.config.hidden))
        if self.extra is not None:
            x = torch.cat((x, self.extra(batch["features"])), dim=-1)
        return self.out(x)


PRESETS = {"rnn": RNNConfig(features="period")}  # the periodogram peaks next to the dt/dm steps (issue 10)
