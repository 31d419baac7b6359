"""Astromer: a transformer encoder of light-curve windows, pretrained by masked reconstruction.

Astromer 1 (Donoso-Oliva et al. 2023) and Astromer 2 (arXiv:2502.02717): each observation's value is
projected to the model width and summed with a sinusoidal encoding of its real time; points chosen for the
pretraining task (see masking.py) have their input replaced by a trainable mask token. The encoder returns the
hidden states of every layer, input embedding first, so a classifier can weigh them (heads.py).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from astroflow.models.layers import (
    Attention,
    Batch,
    Block,
    FeedForward,
    TimeEncoding,
    check_bands,
    init_weights,
    key_mask,
    phase_encoding,
)
from astroflow.models.stochastic_attention import StochasticAttention

ATTENTIONS = ("softmax", "hsa")


@dataclass
class AstromerConfig:
    """Sizes of an Astromer encoder. The width is ``heads * head_dim``."""

    layers: int = 2
    heads: int = 4
    head_dim: int = 64
    ff_dim: int = 256  # the original code's "mixer" size
    dropout: float = 0.1
    window: int = 200  # observations per window the data loader cuts; the model itself takes any length
    use_error: bool = False  # also project the photometric error of each point
    n_bands: int = 0  # > 0: add a learnt band embedding to every point (a joint multiband encoder)
    time_base: float = 10000.0
    attention: str = "softmax"  # or "hsa": hierarchical stochastic attention (stochastic_attention.py)
    centroids: int = 2  # hsa: learnable key centroids shared by the heads
    tau1: float = 1.0  # hsa: temperature of the keys' centroid mixture
    tau2: float = 1.0  # hsa: temperature of the attention weights
    phase_harmonics: int = 0  # > 0: also encode each point's phase at the object's best period, k = 1..this
    features: str = "none"  # light-curve features the classifier head also reads: none, period or all (tabular.py)

    @property
    def dim(self) -> int:
        return self.heads * self.head_dim


class InputEmbedding(nn.Module):
    """Value (and error) projection, mask token for probed points, time encoding, optional band embedding and
    phase encoding (``batch["period"]``, the object's periodogram period: the fold that a time encoding of a few
    fixed frequencies cannot make for periods of hours over years)."""

    def __init__(self, config: AstromerConfig):
        super().__init__()
        self.use_error = config.use_error
        self.n_bands = config.n_bands
        self.value = nn.Linear(2 if config.use_error else 1, config.dim)
        self.mask_token = nn.Parameter(torch.zeros(config.dim))
        self.time = TimeEncoding(config.dim, config.time_base)
        self.band = nn.Embedding(config.n_bands, config.dim) if config.n_bands else None
        self.harmonics = config.phase_harmonics
        self.phase = nn.Linear(2 * config.phase_harmonics, config.dim) if config.phase_harmonics else None
        self.drop = nn.Dropout(config.dropout)

    def forward(self, batch: Batch) -> Tensor:
        features = batch["value"][..., None]
        if self.use_error:
            features = torch.cat((features, batch["error"][..., None]), dim=-1)
        x = self.value(features)
        token = batch.get("token_mask")
        if token is not None:  # the whole input of a masked point is replaced: its error would hint its value
            x = torch.where(token[..., None], self.mask_token.to(x.dtype), x)
        x = x + self.time(batch["time"])
        if self.phase is not None:
            x = x + self.phase(phase_encoding(batch["time"], batch["period"], self.harmonics))
        if self.band is not None:
            x = x + self.band(check_bands(batch["band"], batch["mask"], self.n_bands))
        return self.drop(x)


def attention_layer(config: AstromerConfig) -> nn.Module:
    """The self-attention of a block: softmax attention, or hierarchical stochastic attention (``hsa``)."""
    if config.attention not in ATTENTIONS:
        raise ValueError(f"attention {config.attention!r} is not one of {ATTENTIONS}")
    if config.attention == "hsa":
        return StochasticAttention(config.dim, config.heads, config.head_dim, config.dropout, config.centroids,
                                   config.tau1, config.tau2)
    return Attention(config.dim, config.heads, config.head_dim, config.dropout)


class ReconstructionHead(nn.Module):
    """Predicts each point's value from its last hidden state (the pretraining target)."""

    def __init__(self, dim: int):
        super().__init__()
        self.norm = nn.LayerNorm(dim)
        self.out = nn.Linear(dim, 1)

    def forward(self, hidden: Tensor) -> Tensor:
        return self.out(self.norm(hidden)).squeeze(-1)


class Astromer(nn.Module):
    """The encoder plus its reconstruction head. ``feed_forward`` builds each block's feed-forward layer (dense
    by default; moe.py passes a routed Mixture of Experts)."""

    def __init__(self, config: AstromerConfig, feed_forward: Callable[[], nn.Module] | None = None):
        super().__init__()
        self.config = config
        self.embed = InputEmbedding(config)
        self.blocks = nn.ModuleList(
            Block(config.dim, config.heads, config.head_dim,
                  feed_forward() if feed_forward else FeedForward(config.dim, config.ff_dim, config.dropout),
                  config.dropout, attention_layer(config))
            for _ in range(config.layers))
        self.head = ReconstructionHead(config.dim)
        init_weights(self)

    @property
    def n_hidden(self) -> int:
        """How many hidden states ``forward`` returns."""
        return len(self.blocks) + 1

    def forward(self, batch: Batch) -> list[Tensor]:
        """Hidden states (B, L, D) of the input embedding and of every block; rows follow ``batch['mask']``."""
        mask = batch["mask"]
        attn_mask = key_mask(mask)
        x = self.embed(batch)
        hidden = [x]
        for block in self.blocks:
            x = block(x, mask, attn_mask, batch.get("band"))
            hidden.append(x)
        return hidden

    def reconstruct(self, hidden: list[Tensor], batch: Batch) -> Tensor:
        """Predicted value (B, L) of every point from the last hidden state."""
        return self.head(hidden[-1])


TINY = AstromerConfig(layers=2, heads=2, head_dim=16, ff_dim=64, window=64)
ASTROMER1 = AstromerConfig(layers=2, heads=4, head_dim=64, ff_dim=256, window=200)
ASTROMER2 = AstromerConfig(layers=6, heads=4, head_dim=64, ff_dim=256, window=200)
