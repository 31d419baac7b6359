"""The masked-reconstruction pretraining task of Astromer (BERT-like, arXiv:2502.02717).

In every window a fraction ``probe`` (0.5) of the real points is probed: the model must predict their values.
Of the probed points a fraction ``random`` (0.2) gets the value of a randomly drawn real point of the same
window, a fraction ``same`` (0.2) stays visible unchanged, and the rest get the trainable mask token. Counts are
rounded half up per window (k = floor(probe n + 0.5) of n real points, then likewise of k); padding is never
probed. The loss is the RMSE over probed points only.
"""
from __future__ import annotations

import torch
from torch import Tensor

from astroflow.models.layers import Batch


def _rounded(fraction: float, count: Tensor) -> Tensor:
    return torch.floor(fraction * count + 0.5)


def mask_batch(batch: Batch, generator: torch.Generator | None = None, probe: float = 0.5, random: float = 0.2,
               same: float = 0.2) -> Batch:
    """A copy of ``batch`` set up for pretraining: ``value`` with the random replacements, ``target`` (the
    original values), ``probed`` (points in the loss) and ``token_mask`` (points whose input is the mask token).
    Deterministic given ``generator``."""
    if not (0 <= probe <= 1 and random >= 0 and same >= 0 and random + same <= 1):
        raise ValueError(f"masking fractions out of range: probe={probe}, random={random}, same={same}")
    mask, value = batch["mask"], batch["value"]
    device = generator.device if generator is not None else mask.device
    draws = torch.rand((2, *mask.shape), generator=generator, device=device).to(mask.device)

    # A uniformly random ranking of each window's real points (padding ranks last).
    rank = draws[0].masked_fill(~mask, 2.0).argsort(dim=1).argsort(dim=1)
    n_real = mask.sum(dim=1, keepdim=True)
    n_probed = _rounded(probe, n_real)
    n_random = _rounded(random, n_probed)
    n_same = _rounded(same, n_probed)
    probed = rank < n_probed
    randomised = rank < n_random
    token_mask = probed & (rank >= n_random + n_same)

    # Random values come from the window itself, so they follow its own distribution.
    real_first = (~mask).to(torch.uint8).argsort(dim=1, stable=True)
    pick = (draws[1] * n_real).long().clamp(max=n_real - 1).clamp(min=0)
    replacement = value.gather(1, real_first.gather(1, pick))

    out = dict(batch)
    out.update(value=torch.where(randomised, replacement, value), target=value, probed=probed, token_mask=token_mask)
    return out


def masked_rmse(pred: Tensor, target: Tensor, probed: Tensor, error: Tensor | None = None,
                error_floor: float = 1e-3) -> Tensor:
    """Root of the mean over windows of each window's mean squared error on its probed points.

    With ``error``, each probed point i of a window is weighted by w_i = 1 / max(error_i, error_floor) and the
    window's error is sum(w r^2) / sum(w): precise points count more, and the loss keeps the units of the value
    (the floor keeps a zero error from taking all the weight). Windows without probed points are left out.
    """
    weight = probed.float()
    if error is not None:
        weight = weight / error.float().clamp_min(error_floor)
    squared = (pred.float() - target.float()) ** 2
    total = weight.sum(dim=1)
    per_window = (weight * squared).sum(dim=1) / total.clamp_min(1e-12)
    counted = (total > 0).float()
    mean = (per_window * counted).sum() / counted.sum().clamp_min(1.0)
    return mean.clamp_min(1e-12).sqrt()
