"""Astro-MoE (arXiv:2507.12611): Astromer blocks whose feed-forward layer is a routed Mixture of Experts.

A linear router scores the E experts for every real point; the point goes to its top-k experts, whose outputs
are mixed with a softmax over the k selected scores. Optionally the router also sees a band embedding, so that
bands can prefer different experts. A Switch/GShard load-balancing loss E * sum_e f_e P_e (f_e: fraction of the
routing assignments that went to expert e, P_e: mean router probability of e) keeps experts in use; it is 1 for
uniform routing and E when one expert takes everything. Padding is never routed and never counted.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from astroflow.models.astromer import Astromer, AstromerConfig
from astroflow.models.layers import FeedForward, check_bands


@dataclass
class AstroMoEConfig(AstromerConfig):
    """Astromer sizes plus the experts. Expert count and k are free choices, not the paper's figures."""

    experts: int = 4
    top_k: int = 2
    band_aware: bool = False  # add a band embedding to the router input (needs n_bands > 0)


@dataclass
class MoEStats:
    """What one MoE layer did in its last forward pass."""

    aux_loss: Tensor  # load-balancing loss, scalar
    load: Tensor  # (E,) fraction of routing assignments per expert (sums to 1)
    importance: Tensor  # (E,) mean router probability per expert (sums to 1)


def load_balance(probs: Tensor, chosen: Tensor, experts: int) -> MoEStats:
    """The statistics, with aux_loss = E * sum_e f_e P_e, of router probabilities (N, E) and chosen experts (N, k)."""
    load = torch.bincount(chosen.flatten(), minlength=experts).float() / max(chosen.numel(), 1)
    importance = probs.mean(dim=0) if len(probs) else probs.new_zeros(experts)
    return MoEStats(aux_loss=experts * (load * importance).sum(), load=load, importance=importance.detach())


class MoEFeedForward(nn.Module):
    """Top-k routed experts in place of a block's FeedForward; ``stats`` holds the last pass's MoEStats."""

    def __init__(self, dim: int, hidden: int, experts: int, top_k: int, dropout: float = 0.0, n_bands: int = 0):
        super().__init__()
        if not 1 <= top_k <= experts:
            raise ValueError(f"top_k must be between 1 and the number of experts ({experts}), not {top_k}")
        self.top_k, self.n_bands = top_k, n_bands
        self.router = nn.Linear(dim, experts, bias=False)
        self.band = nn.Embedding(n_bands, dim) if n_bands else None
        self.experts = nn.ModuleList(FeedForward(dim, hidden, dropout) for _ in range(experts))
        self.stats: MoEStats | None = None

    def route(self, x: Tensor, band: Tensor | None = None) -> tuple[Tensor, Tensor, Tensor]:
        """Router probabilities (N, E), gates (N, k) summing to 1, and chosen experts (N, k) for points x (N, D)."""
        if self.band is not None:
            x = x + self.band(band)
        logits = self.router(x).float()
        top, chosen = logits.topk(self.top_k, dim=-1)
        return logits.softmax(dim=-1), top.softmax(dim=-1), chosen

    def forward(self, x: Tensor, mask: Tensor | None = None, band: Tensor | None = None) -> Tensor:
        flat = x.reshape(-1, x.shape[-1])
        real = torch.ones(len(flat), dtype=torch.bool, device=x.device) if mask is None else mask.reshape(-1)
        keep = real.nonzero().squeeze(1)
        points = flat[keep]
        point_band = None
        if self.band is not None:
            if band is None:
                raise ValueError("band-aware routing needs the batch's 'band'")
            point_band = check_bands(band.reshape(-1)[keep], real[keep], self.n_bands)
        probs, gates, chosen = self.route(points, point_band)
        out = torch.zeros_like(flat)
        for e, expert in enumerate(self.experts):
            rows, slot = (chosen == e).nonzero(as_tuple=True)
            y = expert(points[rows]) * gates[rows, slot, None]
            out = out.index_add(0, keep[rows], y.to(out.dtype))
        self.stats = load_balance(probs, chosen, len(self.experts))
        return out.view_as(x)


class AstroMoE(Astromer):
    """Astromer whose every block uses MoEFeedForward; ``moe_stats`` gathers the layers' statistics."""

    def __init__(self, config: AstroMoEConfig):
        if config.band_aware and not config.n_bands:
            raise ValueError("band-aware routing needs n_bands > 0")
        router_bands = config.n_bands if config.band_aware else 0
        super().__init__(config, feed_forward=lambda: MoEFeedForward(
            config.dim, config.ff_dim, config.experts, config.top_k, config.dropout, router_bands))

    def moe_stats(self) -> MoEStats:
        """Mean load-balancing loss over layers (add it, times a weight, to the training loss) and per-layer
        load and importance, (layers, E), from the last forward pass."""
        stats = [block.ff.stats for block in self.blocks]
        if any(s is None for s in stats):
            raise RuntimeError("moe_stats needs a forward pass first")
        return MoEStats(aux_loss=torch.stack([s.aux_loss for s in stats]).mean(),
                        load=torch.stack([s.load for s in stats]), importance=torch.stack([s.importance for s in stats]))
