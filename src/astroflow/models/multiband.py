"""Multiband Astromer (arXiv:2506.11637): one embedding sequence from light curves observed in several bands at
different (asynchronous) times. Two architectures:

(a) PerBandFusion: each band's points go through a single-band Astromer encoder (one shared or one per band);
    the per-band sequences are merged back into the window's own point positions (time order for the merged
    windows of represent/windows.py; attention depends on the encoded times, not on positions), tagged with a
    band embedding, and fused by cross-band attention blocks.
(b) JointEncoder: one Astromer over all points of all bands, each tagged with its band embedding.

Both take the merged multiband batch (every point with its ``band`` code) and return hidden states aligned with
its ``mask``, like a single-band Astromer, so heads and the pretraining loss work unchanged. A band with no point
in a window (or in the whole batch) simply contributes nothing. Joint versus independent pretraining is a choice
of the trainer: a per-band encoder here is a plain Astromer whose weights can be loaded from a single-band run.
"""
from __future__ import annotations

from dataclasses import dataclass, fields

import torch
from torch import Tensor, nn

from astroflow.models.astromer import Astromer, AstromerConfig, Batch
from astroflow.models.layers import Block, FeedForward, check_bands, init_weights, key_mask

POINT_KEYS = ("time", "value", "error", "band", "token_mask", "mask")


@dataclass
class PerBandConfig(AstromerConfig):
    """Sizes of each band encoder (``layers`` etc.) and of the fusion; ``n_bands`` is required."""

    n_bands: int = 2
    shared: bool = True  # one encoder for every band, else one per band
    fusion_layers: int = 1


def select_points(batch: Batch, chosen: Tensor) -> tuple[Batch, Tensor]:
    """The ``chosen`` (B, L) points of each window, packed to the front of a (B, W) sub-batch (W: the most any
    window has), and where each came from, (B, W). Unchosen slots keep other points, masked out."""
    order = (~chosen).to(torch.uint8).argsort(dim=1, stable=True)
    index = order[:, :int(chosen.sum(dim=1).max())]
    sub = {key: batch[key].gather(1, index) for key in POINT_KEYS if key in batch}
    sub["mask"] = chosen.gather(1, index)
    return sub, index


def scatter_points(values: Tensor, index: Tensor, mask: Tensor, length: int) -> Tensor:
    """Inverse of select_points for (B, W, D) values: a (B, length, D) tensor, zero where nothing was chosen."""
    values = values * mask[..., None].to(values.dtype)
    out = values.new_zeros(values.shape[0], length, values.shape[-1])
    return out.scatter_add(1, index[..., None].expand_as(values), values)


class PerBandFusion(nn.Module):
    """Architecture (a): per-band Astromer encoders, time-ordered merge with band embeddings, cross-band
    attention. Returns the merged hidden states of every band-encoder layer, then each fusion block's output."""

    def __init__(self, config: PerBandConfig):
        super().__init__()
        if config.n_bands < 1:
            raise ValueError("PerBandFusion needs n_bands >= 1")
        self.config = config
        band_config = AstromerConfig(**{f.name: getattr(config, f.name) for f in fields(AstromerConfig)})
        band_config.n_bands = 0
        self.encoders = nn.ModuleList(Astromer(band_config) for _ in range(1 if config.shared else config.n_bands))
        self.band = nn.Embedding(config.n_bands, config.dim)
        self.fusion = nn.ModuleList(
            Block(config.dim, config.heads, config.head_dim, FeedForward(config.dim, config.ff_dim, config.dropout),
                  config.dropout)
            for _ in range(config.fusion_layers))
        init_weights(self.band)
        init_weights(self.fusion)

    def encoder(self, band: int) -> Astromer:
        """The encoder of one band."""
        return self.encoders[0 if self.config.shared else band]

    @property
    def n_hidden(self) -> int:
        return self.encoders[0].n_hidden + len(self.fusion)

    def forward(self, batch: Batch) -> list[Tensor]:
        mask = batch["mask"]
        band = check_bands(batch["band"], mask, self.config.n_bands)
        batch_size, length = mask.shape
        merged = [torch.zeros(batch_size, length, self.config.dim, device=mask.device)] * self.encoders[0].n_hidden
        for b in range(self.config.n_bands):
            chosen = mask & (band == b)
            if not bool(chosen.any()):
                continue
            sub, index = select_points(batch, chosen)
            hidden = self.encoder(b)(sub)
            merged = [m + scatter_points(h, index, sub["mask"], length) for m, h in zip(merged, hidden)]
        x = merged[-1] + self.band(band)
        attn_mask = key_mask(mask)
        fused = []
        for block in self.fusion:
            x = block(x, mask, attn_mask, band)
            fused.append(x)
        return merged + fused

    def reconstruct(self, hidden: list[Tensor], batch: Batch) -> Tensor:
        """Each point's value from the fused sequence, by the reconstruction head of its band's encoder."""
        if self.config.shared:
            return self.encoders[0].head(hidden[-1])
        band = check_bands(batch["band"], batch["mask"], self.config.n_bands)
        preds = torch.stack([encoder.head(hidden[-1]) for encoder in self.encoders], dim=-1)
        return preds.gather(-1, band[..., None]).squeeze(-1)


class JointEncoder(Astromer):
    """Architecture (b): one Astromer over the points of all bands, with a band embedding (``n_bands`` > 0)."""

    def __init__(self, config: AstromerConfig):
        if config.n_bands < 1:
            raise ValueError("JointEncoder needs n_bands >= 1")
        super().__init__(config)
