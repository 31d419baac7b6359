"""Per-object outputs of a trained model: every window of an object goes through it, window outputs are averaged.

Objects are taken ``batch_size`` at a time, so memory stays bounded whatever the catalogue's size.
"""
from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch import Tensor, nn

from astroflow.models.heads import masked_mean
from astroflow.train.data import Windows
from astroflow.train.trainer import Batch, autocast, to_device


def pieces(windows: Windows, batch_size: int = 256) -> list[tuple[np.ndarray, int, dict[str, np.ndarray]]]:
    """The model inputs of ``windows``' objects, ``batch_size`` objects at a time: each piece is the owner row (among
    its objects) of every window, the number of objects, and the batch. Cut apart from the model runs, so that a
    DataLoader worker can cut them (train/streaming.py)."""
    out = []
    for start in range(0, len(windows.index), batch_size):
        rows = np.arange(start, min(start + batch_size, len(windows.index)))
        batch = windows.all(rows)
        out.append((_positions(windows.index[rows], batch["index"]), len(rows), batch))
    return out


@torch.no_grad()
def per_object(fn: Callable[[Batch], Tensor], windows: Windows | list, batch_size: int = 256,
               device: torch.device | None = None) -> np.ndarray:
    """The mean over each object's windows of ``fn(batch)`` (B, ...), one row per object of ``windows`` (a source,
    or its pieces already cut)."""
    device = device or torch.device("cpu")
    out = []
    for owner, n, batch in (windows if isinstance(windows, list) else pieces(windows, batch_size)):
        with autocast(device):
            values = fn(to_device(batch, device)).float().cpu()
        sums = torch.zeros(n, *values.shape[1:]).index_add_(0, torch.from_numpy(owner), values)
        counts = np.bincount(owner, minlength=n).reshape(-1, *[1] * (values.dim() - 1))
        out.append(sums.numpy() / counts)
    return np.concatenate(out) if out else np.zeros((0,))


def _positions(index: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Where each of ``values`` sits in ``index`` (whose entries are distinct)."""
    order = np.argsort(index)
    return order[np.searchsorted(index, values, sorter=order)]


def predict_proba(classifier: nn.Module, windows: Windows | list, batch_size: int = 256,
                  device: torch.device | None = None) -> np.ndarray:
    """Class probabilities (n_objects, n_classes): the softmax averaged over each object's windows."""
    classifier.eval()
    return per_object(lambda b: classifier(b).float().softmax(dim=-1), windows, batch_size, device)


def embed(encoder: nn.Module, windows: Windows | list, batch_size: int = 256,
          device: torch.device | None = None) -> np.ndarray:
    """Embeddings (n_objects, n_hidden, dim): every hidden state mean-pooled over the real points of a window,
    averaged over the object's windows."""
    encoder.eval()
    return per_object(lambda b: torch.stack([masked_mean(h, b["mask"]) for h in encoder(b)], dim=1), windows,
                      batch_size, device)
