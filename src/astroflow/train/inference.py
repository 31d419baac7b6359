"""Per-object outputs of a trained model: every window of an object goes through it, window outputs are averaged.

Examples are taken ``batch_size`` at a time, so memory stays bounded whatever the catalogue's size.
"""
from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor, nn

from astroflow.models.heads import masked_mean
from astroflow.represent.windows import SEQUENCES
from astroflow.train.trainer import Batch, autocast, to_device

GROUP = 16  # batches whose windows are sorted together by length: bounds the windows cut at a time
STEP = 8  # windows are cut to a multiple of this many points


@dataclass
class Pieces:
    """The model inputs of a source's objects, cut in batches apart from the model runs (so that a DataLoader
    worker can cut them, train/streaming.py): ``n_objects`` objects, and every batch with the position (among
    those objects) of the owner of each of its examples."""

    n_objects: int
    batches: list[tuple[np.ndarray, dict[str, np.ndarray]]]


def pieces(source, batch_size: int = 256) -> Pieces:
    """The inputs of ``source``'s objects (model_inputs), at most ``batch_size`` examples a batch. Windows (batches
    with a ``mask``) are padded to the model's length, but the models never read padding (models/layers.py): each
    is cut to its number of real points rounded up to ``STEP``, and batched with windows of that length (``GROUP``
    batches at a time), so short light curves cost what their points do, and a window's output does not depend on
    the windows it is batched with (a store predicted block by block gives what it gives whole)."""
    n, step = len(source.index), batch_size * GROUP
    out = []
    for start in range(0, n, step):
        rows = np.arange(start, min(start + step, n))
        batch = source.all(rows)
        owner = _positions(source.index, batch["index"])
        if "mask" not in batch:
            out += [(owner[i:i + batch_size], _take(batch, slice(i, i + batch_size)))
                    for i in range(0, len(owner), batch_size)]
            continue
        full = batch["mask"].shape[1]
        length = np.minimum(np.maximum(-(-batch["mask"].sum(axis=1) // STEP), 1) * STEP, full)
        order = np.argsort(length, kind="stable")
        bounds = np.flatnonzero(np.diff(length[order], prepend=-1, append=-1))
        for first, end in itertools.pairwise(bounds):
            for i in range(first, end, batch_size):
                take = order[i:min(i + batch_size, end)]
                out.append((owner[take], _take(batch, take, int(length[take[0]]))))
    return Pieces(n, out)


def _take(batch: dict[str, np.ndarray], rows, length: int | None = None) -> dict[str, np.ndarray]:
    """Examples ``rows`` of a batch; with ``length``, its windows (the arrays along the points) cut to that."""
    return {k: v[rows, :length] if length is not None and k in SEQUENCES else v[rows] for k, v in batch.items()}


@torch.inference_mode()
def per_object(fn: Callable[[Batch], Tensor], source, batch_size: int = 256,
               device: torch.device | None = None) -> np.ndarray:
    """The mean over each object's windows of ``fn(batch)`` (B, ...), one row per object of ``source`` (model
    inputs, or their Pieces already cut)."""
    device = device or torch.device("cpu")
    cut = source if isinstance(source, Pieces) else pieces(source, batch_size)
    sums, counts = None, np.zeros(cut.n_objects)
    for owner, batch in cut.batches:
        with autocast(device):
            values = fn(to_device(batch, device)).float().cpu()
        if sums is None:
            sums = torch.zeros(cut.n_objects, *values.shape[1:])
        sums.index_add_(0, torch.from_numpy(owner), values)
        counts += np.bincount(owner, minlength=cut.n_objects)
    if sums is None:
        return np.zeros((0,))
    return sums.numpy() / counts.reshape(-1, *[1] * (sums.dim() - 1))


def _positions(index: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Where each of ``values`` sits in ``index`` (whose entries are distinct)."""
    order = np.argsort(index)
    return order[np.searchsorted(index, values, sorter=order)]


def predict_proba(classifier: nn.Module, source, batch_size: int = 256,
                  device: torch.device | None = None) -> np.ndarray:
    """Class probabilities (n_objects, n_classes): the softmax averaged over each object's windows."""
    classifier.eval()
    return per_object(lambda b: classifier(b).float().softmax(dim=-1), source, batch_size, device)


def embed(encoder: nn.Module, source, batch_size: int = 256,
          device: torch.device | None = None) -> np.ndarray:
    """Embeddings (n_objects, n_hidden, dim): every hidden state mean-pooled over the real points of a window,
    averaged over the object's windows."""
    encoder.eval()
    return per_object(lambda b: torch.stack([masked_mean(h, b["mask"]) for h in encoder(b)], dim=1), source,
                      batch_size, device)
