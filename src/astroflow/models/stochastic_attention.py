"""Hierarchical Stochastic Attention (Pei et al., AAAI 2022, arXiv:2112.13776), used by Cadiz-Leyton et al.
(2025) to give Astromer predictive uncertainty.

Two levels of Gumbel-softmax sampling replace the deterministic attention. First every key is replaced by a
stochastic mixture of ``k`` learnable centroids (head_dim x k, shared by all heads): mixture weights
Gumbel-softmax(key . centroids, tau1). Then the attention weights over those keys are themselves drawn,
Gumbel-softmax(q . k~ / sqrt(head_dim), tau2), instead of the softmax. Both draws stay on at inference, so
repeated passes over one input differ and their spread measures the model's uncertainty. As temperatures go to
0 each draw becomes one-hot: every key is one centroid and every query attends to one key (hard attention).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def gumbel_softmax(logits: Tensor, tau: float) -> Tensor:
    """softmax((logits + g) / tau) over the last axis, g standard Gumbel noise from torch's generator (seeded runs
    repeat). Logits of -inf (masked keys) keep weight 0."""
    gumbel = -torch.empty_like(logits).exponential_().log()
    return ((logits + gumbel) / tau).softmax(dim=-1)


def stochastic_keys(k: Tensor, centroids: Tensor, tau1: float) -> Tensor:
    """Keys (B, H, L, d) replaced by their Gumbel-softmax mixture of the (d, k) centroids."""
    return gumbel_softmax(k @ centroids, tau1) @ centroids.T


def stochastic_weights(q: Tensor, k: Tensor, centroids: Tensor, attn_mask: Tensor, tau1: float,
                       tau2: float) -> Tensor:
    """Attention weights (B, H, L, L) drawn over the stochastic keys; ``attn_mask`` True where a key may be read."""
    logits = q @ stochastic_keys(k, centroids, tau1).transpose(-2, -1) / q.shape[-1] ** 0.5
    return gumbel_softmax(logits.masked_fill(~attn_mask, float("-inf")), tau2)


class StochasticAttention(nn.Module):
    """Multi-head self-attention with hierarchical stochastic weights; a drop-in for layers.Attention."""

    def __init__(self, dim: int, heads: int, head_dim: int, dropout: float = 0.0, centroids: int = 2,
                 tau1: float = 1.0, tau2: float = 1.0):
        super().__init__()
        if centroids < 1 or tau1 <= 0 or tau2 <= 0:
            raise ValueError(f"stochastic attention needs centroids >= 1 and temperatures > 0, not "
                             f"{centroids}, {tau1}, {tau2}")
        self.heads, self.head_dim, self.dropout, self.tau1, self.tau2 = heads, head_dim, dropout, tau1, tau2
        self.qkv = nn.Linear(dim, 3 * heads * head_dim)
        self.out = nn.Linear(heads * head_dim, dim)
        self.centroids = nn.Parameter(torch.randn(head_dim, centroids) / head_dim ** 0.5)

    def forward(self, x: Tensor, attn_mask: Tensor) -> Tensor:
        batch, length, _ = x.shape
        q, k, v = self.qkv(x).view(batch, length, 3, self.heads, self.head_dim).permute(2, 0, 3, 1, 4)
        # float32: at low temperatures the scaled logits overflow bf16
        weights = stochastic_weights(q.float(), k.float(), self.centroids.float(), attn_mask, self.tau1, self.tau2)
        weights = F.dropout(weights, self.dropout, self.training)
        y = (weights @ v.float()).to(v.dtype)
        return self.out(y.transpose(1, 2).reshape(batch, length, self.heads * self.head_dim))
