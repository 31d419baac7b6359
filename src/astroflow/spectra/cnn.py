"""A 1-D convolutional network on the spectrum itself (normalised flux and good-pixel mask along the grid): the
direct route the image route is compared against. Strided convolutions shrink the 4648-pixel SDSS grid to a few
hundred positions; mean and max pooling over them feed one linear head (class, subclass, regression outputs)."""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn


@dataclass
class SpectrumCNNConfig:
    channels: tuple[int, ...] = (8, 16, 32, 64)
    kernel: int = 7
    stride: int = 2
    dropout: float = 0.1
    n_outputs: int = 1


class SpectrumCNN(nn.Module):
    """(B, 2, pixels) float32 -> (B, n_outputs)."""

    input = "vector"

    def __init__(self, config: SpectrumCNNConfig):
        super().__init__()
        self.config = config
        layers, width = [], 2
        for channels in config.channels:
            layers += [nn.Conv1d(width, channels, config.kernel, stride=config.stride, padding=config.kernel // 2),
                       nn.BatchNorm1d(channels), nn.GELU()]
            width = channels
        self.features = nn.Sequential(*layers)
        self.head = nn.Sequential(nn.Dropout(config.dropout), nn.Linear(2 * width, config.n_outputs))

    def forward(self, batch: dict[str, Tensor]) -> Tensor:
        x = self.features(batch["vector"])
        return self.head(torch.cat([x.mean(dim=2), x.amax(dim=2)], dim=1))


PRESETS = {"spectrum-cnn": SpectrumCNNConfig()}
