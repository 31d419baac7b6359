"""Classifier heads on encoder embeddings, and the encoder + head model used for fine-tuning.

A head takes the encoder's list of hidden states (B, L, D) and the batch mask, pools over the real points
only, and returns class logits; a head built with ``n_features`` also reads the object's standardised light-curve
features (train/tabular.py) next to the pooled embedding (the hybrid of ATAT: light curve and tabular data in one
head). The MLP follows the Astromer 2 classifiers (hidden 1024, 512, 256 with ReLU,
then LayerNorm and the output layer).
"""
from __future__ import annotations

import torch
from torch import Tensor, nn

from astroflow.models.layers import Batch

MLP_HIDDEN = (1024, 512, 256)


def masked_mean(hidden: Tensor, mask: Tensor) -> Tensor:
    """Mean over the real points of each window, (B, L, D) -> (B, D); zero for a window without any."""
    weight = mask[..., None].to(hidden.dtype)
    return (hidden * weight).sum(dim=-2) / weight.sum(dim=-2).clamp_min(1.0)


def mlp(dim: int, n_classes: int, hidden: tuple[int, ...] = MLP_HIDDEN, dropout: float = 0.0) -> nn.Sequential:
    """ReLU layers of the ``hidden`` widths, LayerNorm, then the logits."""
    layers: list[nn.Module] = []
    for width in hidden:
        layers += [nn.Linear(dim, width), nn.ReLU(), nn.Dropout(dropout)]
        dim = width
    return nn.Sequential(*layers, nn.LayerNorm(dim), nn.Linear(dim, n_classes))


def joined(pooled: Tensor, features: Tensor | None) -> Tensor:
    """The pooled embedding, followed by the object's features when the head reads them."""
    return pooled if features is None else torch.cat((pooled, features.to(pooled.dtype)), dim=-1)


class MeanPoolHead(nn.Module):
    """Mean of the last hidden state over the real points, then an MLP."""

    def __init__(self, dim: int, n_classes: int, hidden: tuple[int, ...] = MLP_HIDDEN, dropout: float = 0.0,
                 n_features: int = 0):
        super().__init__()
        self.mlp = mlp(dim + n_features, n_classes, hidden, dropout)

    def forward(self, hidden: list[Tensor], mask: Tensor, features: Tensor | None = None) -> Tensor:
        return self.mlp(joined(masked_mean(hidden[-1], mask), features))


class LayerWeightedHead(nn.Module):
    """Astromer 2 head: every hidden state mean-pooled, averaged with softmax-normalised learnt weights (equal at
    the start), then an MLP."""

    def __init__(self, dim: int, n_hidden: int, n_classes: int, hidden: tuple[int, ...] = MLP_HIDDEN,
                 dropout: float = 0.0, n_features: int = 0):
        super().__init__()
        self.layer_logits = nn.Parameter(torch.zeros(n_hidden))
        self.mlp = mlp(dim + n_features, n_classes, hidden, dropout)

    def layer_weights(self) -> Tensor:
        return self.layer_logits.softmax(dim=0)

    def forward(self, hidden: list[Tensor], mask: Tensor, features: Tensor | None = None) -> Tensor:
        if len(hidden) != len(self.layer_logits):
            raise ValueError(f"head built for {len(self.layer_logits)} hidden states, got {len(hidden)}")
        pooled = torch.stack([masked_mean(h, mask) for h in hidden])
        return self.mlp(joined((self.layer_weights()[:, None, None] * pooled).sum(dim=0), features))


def freeze(module: nn.Module) -> nn.Module:
    """Stop training ``module``'s parameters (a frozen encoder); returns it."""
    for p in module.parameters():
        p.requires_grad_(False)
    return module


class Classifier(nn.Module):
    """Encoder + head. With ``freeze_encoder`` the encoder is frozen and stays in eval mode (no dropout), and
    runs without building a graph; otherwise the whole model is fine-tuned."""

    def __init__(self, encoder: nn.Module, head: nn.Module, freeze_encoder: bool = False):
        super().__init__()
        self.encoder, self.head, self.freeze_encoder = encoder, head, freeze_encoder
        if freeze_encoder:
            freeze(encoder)
            encoder.eval()

    def train(self, mode: bool = True) -> Classifier:
        super().train(mode)
        if self.freeze_encoder:
            self.encoder.eval()
        return self

    def forward(self, batch: Batch) -> Tensor:
        with torch.set_grad_enabled(torch.is_grad_enabled() and not self.freeze_encoder):
            hidden = self.encoder(batch)
        return self.head(hidden, batch["mask"], batch.get("features"))
