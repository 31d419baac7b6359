"""Building blocks shared by the light-curve transformers: time encoding, attention, feed-forward, block.

Every sequence here is (B, L, D) with a boolean ``mask`` (B, L), True for a real observation. Padded positions
are never attended to as keys; what a padded query position computes is meaningless and must be ignored by
whoever reads the output (heads pool over ``mask`` only).
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

Batch = dict[str, Tensor]  # a model's input: named (B, ...) tensors, see represent/windows.py


class TimeEncoding(nn.Module):
    """Sinusoidal encoding of the real observation times (Astromer): pair ``i`` of channels holds
    sin(t w_i), cos(t w_i) interleaved, with w_i = base^(-2i/dim), so irregular cadences are encoded as they are."""

    def __init__(self, dim: int, base: float = 10000.0):
        super().__init__()
        if dim % 2:
            raise ValueError(f"time encoding needs an even dimension, not {dim}")
        # numpy: a float64 arange on the meta device (models.check_size) would import torch's compiler, seconds a job
        freq = base ** -(np.arange(0, dim, 2, dtype=np.float64) / dim)
        self.register_buffer("freq", torch.tensor(freq, dtype=torch.float32), persistent=False)

    def forward(self, time: Tensor) -> Tensor:
        # Float32 even under autocast: t w_i for t of hundreds of days loses its phase in bf16.
        angle = time.float()[..., None] * self.freq
        return torch.stack((angle.sin(), angle.cos()), dim=-1).flatten(-2)


def phase_encoding(time: Tensor, period: Tensor, harmonics: int) -> Tensor:
    """sin and cos of k 2 pi t / P for k = 1..``harmonics``, (B, L) times and (B,) periods to (B, L, 2 harmonics):
    the points of a light curve folded at period P. A period of 0 (none found) gives zeros."""
    known = period > 0
    cycles = time.double() / torch.where(known, period.double(), 1.0)[:, None]
    turn = 2 * torch.pi * torch.frac(cycles)  # float64 before the fraction: t / P reaches 1e5 for years and hours
    angle = (turn[..., None] * torch.arange(1, harmonics + 1, device=time.device)).float()
    out = torch.cat((angle.sin(), angle.cos()), dim=-1)
    return out * known[:, None, None].to(out.dtype)


class FeatureBranch(nn.Module):
    """A small MLP taking an object's standardised light-curve features (train/tabular.py) to ``width`` values that
    a classifier concatenates to what its network read of the light curve."""

    def __init__(self, n_features: int, width: int = 128, dropout: float = 0.1):
        super().__init__()
        self.width = width
        self.net = nn.Sequential(nn.Linear(n_features, width), nn.GELU(), nn.Dropout(dropout), nn.Linear(width, width),
                                 nn.GELU())

    def forward(self, features: Tensor) -> Tensor:
        return self.net(features)


def key_mask(mask: Tensor) -> Tensor:
    """The (B, 1, 1, L) attention mask that hides padded keys. A row with no real point at all (a band missing
    from a window) may attend to its padding instead, so that softmax never sees only -inf and returns NaN."""
    empty = ~mask.any(dim=1, keepdim=True)
    return (mask | empty)[:, None, None, :]


class Attention(nn.Module):
    """Multi-head self-attention through ``scaled_dot_product_attention`` (fused kernels on GPU)."""

    def __init__(self, dim: int, heads: int, head_dim: int, dropout: float = 0.0):
        super().__init__()
        self.heads, self.head_dim, self.dropout = heads, head_dim, dropout
        self.qkv = nn.Linear(dim, 3 * heads * head_dim)
        self.out = nn.Linear(heads * head_dim, dim)

    def forward(self, x: Tensor, attn_mask: Tensor) -> Tensor:
        batch, length, _ = x.shape
        q, k, v = self.qkv(x).view(batch, length, 3, self.heads, self.head_dim).permute(2, 0, 3, 1, 4)
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask,
                                           dropout_p=self.dropout if self.training else 0.0)
        return self.out(y.transpose(1, 2).reshape(batch, length, self.heads * self.head_dim))


class FeedForward(nn.Module):
    """Position-wise MLP. Takes (and ignores) ``mask`` and ``band`` so a routed MoE can stand in its place."""

    def __init__(self, dim: int, hidden: int, dropout: float = 0.0):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Dropout(dropout), nn.Linear(hidden, dim))

    def forward(self, x: Tensor, mask: Tensor | None = None, band: Tensor | None = None) -> Tensor:
        return self.net(x)


class Block(nn.Module):
    """Pre-norm transformer block: x + attn(norm(x)), then x + ff(norm(x)); ``ff`` is any feed-forward module
    with the FeedForward signature (dense or Mixture of Experts), ``attention`` any module with Attention's
    (default: Attention)."""

    def __init__(self, dim: int, heads: int, head_dim: int, ff: nn.Module, dropout: float = 0.0,
                 attention: nn.Module | None = None):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = Attention(dim, heads, head_dim, dropout) if attention is None else attention
        self.norm2 = nn.LayerNorm(dim)
        self.ff = ff
        self.drop = nn.Dropout(dropout)

    def forward(self, x: Tensor, mask: Tensor, attn_mask: Tensor, band: Tensor | None = None) -> Tensor:
        x = x + self.drop(self.attn(self.norm1(x), attn_mask))
        return x + self.drop(self.ff(self.norm2(x), mask=mask, band=band))


def init_weights(module: nn.Module) -> None:
    """Truncated-normal linear and embedding weights (std 0.02), zero biases: the usual transformer start."""
    for m in module.modules():
        if isinstance(m, (nn.Linear, nn.Embedding)):
            nn.init.trunc_normal_(m.weight, std=0.02)
        if isinstance(m, nn.Linear) and m.bias is not None:
            nn.init.zeros_(m.bias)


def count_parameters(module: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad)



def check_bands(band: Tensor, mask: Tensor, n_bands: int) -> Tensor:
    """Band codes with padding set to 0, after checking that every real point's code is in 0..n_bands-1."""
    band = band.masked_fill(~mask, 0)
    if band.numel() and (int(band.min()) < 0 or int(band.max()) >= n_bands):
        raise ValueError(f"band codes {int(band.min())}..{int(band.max())} do not fit a model of {n_bands} bands")
    return band
