"""What a training step is: masked-reconstruction pretraining, and classification of labelled windows."""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from astroflow.models.masking import mask_batch, masked_rmse
from astroflow.train.data import Windows, balanced_draw
from astroflow.train.inference import predict_proba
from astroflow.train.streaming import at
from astroflow.train.trainer import Batch, model_device, to_device


def aux_loss(encoder: nn.Module) -> Tensor | None:
    """A Mixture of Experts encoder's load-balancing loss from its last forward pass (None for a dense one)."""
    return encoder.moe_stats().aux_loss if hasattr(encoder, "moe_stats") else None


class Reconstructor(nn.Module):
    """An encoder and its reconstruction head in one forward pass (the module a data-parallel wrapper needs):
    returns each point's predicted value and the load-balancing loss (zero for dense encoders)."""

    def __init__(self, encoder: nn.Module):
        super().__init__()
        self.encoder = encoder

    def forward(self, batch: Batch) -> tuple[Tensor, Tensor]:
        pred = self.encoder.reconstruct(self.encoder(batch), batch)
        aux = aux_loss(self.encoder)
        return pred, aux if aux is not None else pred.new_zeros(())


MAX_VALIDATION = 2048  # validation objects of pretraining (one fixed masked window each)


class MaskedReconstruction:
    """Astromer pretraining: predict the probed points of random windows (models/masking.py); validation is the
    masked RMSE of fixed windows and fixed masks of the validation objects. Trains a Reconstructor."""

    monitor = "rmse"

    def __init__(self, train: Windows, validation: Windows, batch_size: int, probe: float = 0.5,
                 random: float = 0.2, same: float = 0.2, weight_by_error: bool = False, aux_weight: float = 0.01,
                 max_validation: int = MAX_VALIDATION):
        self.train, self.batch_size = train, batch_size
        self.fractions = {"probe": probe, "random": random, "same": same}
        self.weight_by_error, self.aux_weight = weight_by_error, aux_weight
        rows = np.arange(min(len(validation.index), max_validation))
        fixed = validation.random(rows, np.random.default_rng(0))
        self.validation = mask_batch(to_device(fixed, torch.device("cpu")), torch.Generator().manual_seed(0),
                                     **self.fractions)

    def batch(self, rng: np.random.Generator, step: int) -> dict[str, np.ndarray]:
        source = at(self.train, step)
        return source.random(rng.integers(0, len(source.index), self.batch_size), rng)

    def _rmse(self, model: nn.Module, masked: Batch) -> tuple[Tensor, Tensor]:
        pred, aux = model(masked)
        error = masked["error"] if self.weight_by_error else None
        return masked_rmse(pred, masked["target"], masked["probed"], error), aux

    def loss(self, model: nn.Module, batch: Batch, generator: torch.Generator) -> tuple[Tensor, dict[str, float]]:
        rmse, aux = self._rmse(model, mask_batch(batch, generator, **self.fractions))
        return rmse + self.aux_weight * aux, {"rmse": float(rmse.detach()), "aux": float(aux.detach())}

    def validate(self, model: nn.Module) -> dict[str, float]:
        dev = model_device(model)
        total, count = 0.0, 0
        n = len(self.validation["mask"])
        for start in range(0, n, self.batch_size):
            chunk = {k: v[start:start + self.batch_size].to(dev) for k, v in self.validation.items()}
            rmse, _ = self._rmse(model, chunk)
            total += float(rmse) ** 2 * len(chunk["mask"])
            count += len(chunk["mask"])
        return {"rmse": (total / max(count, 1)) ** 0.5}


class Classification:
    """Cross-entropy on random windows of labelled objects, balanced over classes by default; validation is the
    cross-entropy and accuracy of the validation objects' probabilities (averaged over all their windows)."""

    monitor = "loss"

    def __init__(self, train: Windows, validation: Windows, batch_size: int, balanced: bool = True,
                 aux_weight: float = 0.01):
        self.train, self.validation, self.batch_size = train, validation, batch_size
        self.balanced, self.aux_weight = balanced, aux_weight
        # A streamed source has no ragged arrays before its first step: the stage chose labelled objects only.
        if hasattr(train, "ragged") and (train.ragged.label[train.index] < 0).any():
            raise ValueError("classification needs labelled training objects")

    def batch(self, rng: np.random.Generator, step: int) -> dict[str, np.ndarray]:
        source = at(self.train, step)
        labels = source.ragged.label[source.index]
        if self.balanced:
            rows = balanced_draw(labels, self.batch_size, rng)
        else:
            rows = rng.integers(0, len(labels), self.batch_size)
        return source.random(rows, rng)

    def loss(self, model: nn.Module, batch: Batch, generator: torch.Generator) -> tuple[Tensor, dict[str, float]]:
        logits = model(batch)
        ce = F.cross_entropy(logits.float(), batch["label"])
        inner = getattr(model, "module", model)  # under data parallel training, the wrapped classifier
        aux = None if getattr(inner, "freeze_encoder", False) else aux_loss(getattr(inner, "encoder", inner))
        loss = ce if aux is None else ce + self.aux_weight * aux
        accuracy = float((logits.argmax(dim=-1) == batch["label"]).float().mean())
        return loss, {"ce": float(ce.detach()), "accuracy": accuracy}

    def validate(self, model: nn.Module) -> dict[str, float]:
        probs = predict_proba(model, self.validation, self.batch_size, model_device(model))
        labels = self.validation.ragged.label[self.validation.index]
        truth = probs[np.arange(len(labels)), labels]
        return {"loss": float(-np.log(np.clip(truth, 1e-12, None)).mean()),
                "accuracy": float((probs.argmax(axis=1) == labels).mean())}
