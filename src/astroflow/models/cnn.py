"""Convolutional classifier of dt/dm series (Aguirre et al. 2019, arXiv:1810.09440).

Each band's light curve is two channels, the time and magnitude differences of consecutive points (each starting
with 0), padded or cut to ``length`` (represent/dtdm.py ``dtdm_cnn``). One Conv1D tower, shared by all bands,
reads both channels; the bands' flattened outputs are concatenated and go through dropout and a dense layer to
the logits (with ``features``, next to a FeatureBranch of the object's light-curve features). Differences are
compressed with asinh, as in rnn.py.
"""
from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from astroflow.models.layers import Batch, FeatureBranch


@dataclass
class CNNConfig:
    """Sizes of the convolutional tower and dense layer, and the series length it reads."""

    channels: tuple[int, ...] = (64, 32)
    kernel: int = 5
    stride: int = 2
    dense: int = 128
    dropout: float = 0.5
    length: int = 500  # points per band; longer light curves are cut, shorter zero-padded
    n_classes: int = 0
    n_bands: int = 1
    features: str = "none"  # light-curve features also read (train/tabular.py): none, period or all
    n_features: int = 0  # their count, filled in from the data

    def out_length(self) -> int:
        """Positions left after the tower (each convolution is unpadded and strided)."""
        n = self.length
        for _ in self.channels:
            n = (n - self.kernel) // self.stride + 1
        if n < 1:
            raise ValueError(f"length {self.length} is too short for {len(self.channels)} convolutions of kernel "
                             f"{self.kernel} and stride {self.stride}")
        return n


class DtDmCNN(nn.Module):
    def __init__(self, config: CNNConfig):
        super().__init__()
        self.config = config
        widths = (2, *config.channels)
        self.convs = nn.ModuleList(nn.Conv1d(a, b, config.kernel, stride=config.stride)
                                   for a, b in pairwise(widths))
        self.drop = nn.Dropout(config.dropout)
        flat = config.channels[-1] * config.out_length()
        self.dense = nn.Linear(config.n_bands * flat, config.dense)
        self.extra = FeatureBranch(config.n_features) if config.n_features else None
        self.out = nn.Linear(config.dense + (self.extra.width if self.extra else 0), config.n_classes)

    def forward(self, batch: Batch) -> Tensor:
        series, mask = batch["series"], batch["series_mask"]  # (B, bands, 2, L), (B, bands, L)
        b, n_bands, _, length = series.shape
        x = torch.asinh(series.reshape(b * n_bands, 2, length))
        keep = mask.reshape(b * n_bands, 1, length).to(x.dtype)
        for conv in self.convs:
            x = F.relu(conv(x * keep))
            # Outputs starting on padding are zeroed, so the dense layer sees zeros where the light curve ended.
            keep = keep[..., :: conv.stride[0]][..., : x.shape[-1]]
        x = (x * keep).reshape(b, -1)
        x = self.drop(F.relu(self.dense(self.drop(x))))
        if self.extra is not None:
            x = torch.cat((x, self.extra(batch["features"])), dim=-1)
        return self.out(x)


PRESETS = {"cnn": CNNConfig(features="period")}  # the periodogram peaks next to the dt/dm series (issue 10)
