"""Data parallel training under ``torchrun``: process group set-up, the rank's share of a batch, the DDP wrapper.

Every rank draws the same global batch (it is a function of the seed and step only) and trains on its slice, so
one process and N processes see the same data per step. Without ``torchrun`` (WORLD_SIZE unset or 1) all of this
is a no-op.
"""
from __future__ import annotations

import os

import torch
import torch.distributed as dist
from torch import nn


def world_size() -> int:
    return int(os.environ.get("WORLD_SIZE", "1"))


def setup() -> None:
    """Join the process group torchrun describes (NCCL on GPUs, Gloo on CPUs); once per process."""
    if world_size() > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
        if torch.cuda.is_available():
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))


def rank() -> int:
    return dist.get_rank() if dist.is_initialized() else 0


def is_main() -> bool:
    """The rank that writes checkpoints, metrics and outputs."""
    return rank() == 0


def rank_slice() -> slice:
    """This rank's rows of a global batch."""
    return slice(rank(), None, dist.get_world_size()) if dist.is_initialized() else slice(None)


def wrap(model: nn.Module, device: torch.device) -> nn.Module:
    """The model to call in training steps: DDP-wrapped when several ranks train, else itself."""
    if not dist.is_initialized() or dist.get_world_size() == 1:
        return model
    ids = [device.index] if device.type == "cuda" else None
    return nn.parallel.DistributedDataParallel(model, device_ids=ids, find_unused_parameters=True)
