"""StelNet's network: an MLP from (log Teff, log L[, Fe/H]) to (log age, log mass), 10 hidden layers x 50 with ReLU,
min-max normalised inputs and outputs, and a bootstrap ensemble of them trained all at once.

The ensemble holds every member's weights stacked along a leading axis and runs them with batched matrix products,
so one full-batch Adam step trains all members together. Member k's initial weights and bootstrap draw depend only on
(seed, k), and its loss only on its own weights, so a member trained in any group, or alone, is the same network.
"""
from __future__ import annotations

import itertools
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import numpy as np
import torch
from torch import nn

from astroflow.errors import InputError
from astroflow.stellar.grids import OUTPUTS


@dataclass
class TrainConfig:
    """The network and its training (schema section stellar.train)."""

    hidden_layers: int = 10
    width: int = 50
    members: int = 20  # bootstrap ensemble size per branch
    groups: int = 1  # jobs the members are split over (each trains its members vectorised)
    epochs: int = 2000  # full-batch Adam steps
    lr: float = 1e-3
    seed: int = 0
    log_every: int = 100  # epochs between loss records (and log lines)
    checkpoint_every: int = 500  # epochs between checkpoints (a killed job resumes from the last one)

    def group_members(self, group: int) -> list[int]:
        return [int(k) for k in np.array_split(np.arange(self.members), self.groups)[group]]


@dataclass
class StelNetCard:
    """One trained ensemble of one branch: what it reads and predicts, how it scales them, and its provenance."""

    branch: str  # pre or post (main sequence)
    inputs: list[str]
    outputs: list[str]
    members: list[int]  # member indices (their seeds) in this file
    hidden_layers: int
    width: int
    x_min: list[float]  # min-max normalisation of inputs and outputs
    x_max: list[float]
    y_min: list[float]
    y_max: list[float]
    grid: str = ""
    feh: list[float] = field(default_factory=list)
    train: dict = field(default_factory=dict)  # TrainConfig fields
    history: dict = field(default_factory=dict)  # epoch -> mean training and held-back loss
    train_seconds: float = 0.0
    config_hash: str = ""
    data: dict[str, str] = field(default_factory=dict)  # sha256 of the training samples

    @classmethod
    def from_dict(cls, values: dict, source: str | Path) -> StelNetCard:
        known = {f.name for f in fields(cls)}
        if set(values) - known or "branch" not in values:
            raise InputError(source, f"not a StelNet model card (fields {sorted(values)})")
        return cls(**values)


class Ensemble(nn.Module):
    """``n_members`` MLPs of the same shape; forward takes inputs [members, points, features] (or [points, features],
    shared by all members) and returns [members, points, outputs]."""

    def __init__(self, members: list[int], n_in: int, n_out: int, hidden_layers: int = 10, width: int = 50,
                 seed: int = 0):
        super().__init__()
        sizes = [n_in] + [width] * hidden_layers + [n_out]
        self.weights = nn.ParameterList()
        self.biases = nn.ParameterList()
        for fan_in, fan_out in itertools.pairwise(sizes):
            self.weights.append(nn.Parameter(torch.empty(len(members), fan_in, fan_out)))
            self.biases.append(nn.Parameter(torch.empty(len(members), 1, fan_out)))
        with torch.no_grad():
            for i, k in enumerate(members):  # nn.Linear's default initialisation, from the member's own seed
                g = torch.Generator().manual_seed(seed * 100_003 + k)
                for w, b in zip(self.weights, self.biases):
                    bound = w.shape[1] ** -0.5
                    w[i].uniform_(-bound, bound, generator=g)
                    b[i].uniform_(-bound, bound, generator=g)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() == 2:
            x = x.expand(len(self.weights[0]), *x.shape)
        last = len(self.weights) - 1
        for i, (w, b) in enumerate(zip(self.weights, self.biases)):
            x = torch.baddbmm(b, x, w)
            if i < last:
                x = torch.relu(x)
        return x


def scale(values: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    return (values - lo) / (hi - lo)


def fit(x: np.ndarray, y: np.ndarray, cfg: TrainConfig, members: list[int], x_val: np.ndarray | None = None,
        y_val: np.ndarray | None = None, checkpoint: str | Path | None = None, name: str = "stelnet"
        ) -> tuple[Ensemble, dict]:
    """Train ``members`` of the ensemble on bootstrap draws of normalised (x, y), full batch, Adam. Returns the
    ensemble and its loss history (mean over members); ``name`` begins its log lines. With ``checkpoint``, the state is saved there every
    ``checkpoint_every`` epochs and a run of the same members, settings and data resumes from it exactly (a full-batch
    step draws no random numbers)."""
    import hashlib

    from astroflow.logs import log

    torch.manual_seed(cfg.seed)
    model = Ensemble(members, x.shape[1], y.shape[1], cfg.hidden_layers, cfg.width, cfg.seed)
    draws = np.stack([np.random.default_rng([cfg.seed, k]).integers(0, len(x), len(x)) for k in members])
    xb = torch.as_tensor(x[draws], dtype=torch.float32)
    yb = torch.as_tensor(y[draws], dtype=torch.float32)
    xv = None if x_val is None else torch.as_tensor(x_val, dtype=torch.float32)
    yv = None if y_val is None else torch.as_tensor(y_val, dtype=torch.float32)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    history, first = {}, 1
    settings = {k: v for k, v in asdict(cfg).items() if k not in ("epochs", "log_every", "checkpoint_every")}
    key = hashlib.sha256(repr((settings, members)).encode() + x.tobytes() + y.tobytes()).hexdigest()
    if checkpoint is not None and Path(checkpoint).exists():
        saved = torch.load(checkpoint, map_location="cpu", weights_only=True)
        if saved["key"] == key and saved["epoch"] <= cfg.epochs:
            model.load_state_dict(saved["model"])
            opt.load_state_dict(saved["opt"])
            history, first = saved["history"], saved["epoch"] + 1
            log.info("%s: resumed from %s at epoch %d", name, checkpoint, saved["epoch"])
    for epoch in range(first, cfg.epochs + 1):
        # each member's mean squared error, summed: a member's gradient is its own loss's gradient
        loss = ((model(xb) - yb) ** 2).mean(dim=(1, 2)).sum()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if epoch % cfg.log_every == 0 or epoch == cfg.epochs:
            record = {"train": loss.item() / len(members)}
            if xv is not None:
                with torch.no_grad():
                    record["held_back"] = ((model(xv) - yv) ** 2).mean().item()
            history[str(epoch)] = record
            log.info("%s: epoch %d/%d %s", name, epoch, cfg.epochs, ", ".join(f"{k} loss {v:.4g}" for k, v in record.items()))
        if checkpoint is not None and epoch % cfg.checkpoint_every == 0:
            partial = Path(f"{checkpoint}.partial")
            torch.save({"key": key, "epoch": epoch, "model": model.state_dict(), "opt": opt.state_dict(),
                        "history": history}, partial)
            partial.replace(checkpoint)
    return model, history


def train(samples_path: str | Path, branch: str, group: int, cfg: TrainConfig, out: str | Path,
          config_hash: str = "", threads: int = 1) -> StelNetCard:
    """The stellar_train job: one group of one branch's ensemble, saved with its card (model.pt)."""
    from astroflow.provenance import sha256_file
    from astroflow.stellar.grids import INPUTS, read_samples

    torch.set_num_threads(threads)
    samples = read_samples(samples_path, branch)
    inputs = list(INPUTS) + (["feh"] if samples["feh"].nunique() > 1 else [])
    train_part, held = samples[~samples["held_back"]], samples[samples["held_back"]]
    x, y = train_part[inputs].to_numpy(np.float64), train_part[list(OUTPUTS)].to_numpy(np.float64)
    x_min, x_max, y_min, y_max = x.min(0), x.max(0), y.min(0), y.max(0)
    x_max = np.where(x_max > x_min, x_max, x_min + 1)  # a constant input (one metallicity) scales to 0
    members = cfg.group_members(group)
    checkpoint = Path(f"{out}.checkpoint")
    start = time.perf_counter()
    model, history = fit(scale(x, x_min, x_max), scale(y, y_min, y_max), cfg, members,
                         scale(held[inputs].to_numpy(np.float64), x_min, x_max),
                         scale(held[list(OUTPUTS)].to_numpy(np.float64), y_min, y_max), checkpoint,
                         name=f"stelnet {branch}-MS g{group} (members {', '.join(map(str, members))})")
    card = StelNetCard(branch=branch, inputs=inputs, outputs=list(OUTPUTS), members=members,
                       hidden_layers=cfg.hidden_layers, width=cfg.width, x_min=x_min.tolist(), x_max=x_max.tolist(),
                       y_min=y_min.tolist(), y_max=y_max.tolist(), feh=sorted(samples["feh"].unique().tolist()),
                       train=asdict(cfg), history=history, train_seconds=time.perf_counter() - start,
                       config_hash=config_hash, data={"samples": sha256_file(samples_path)})
    save(out, model, card)
    checkpoint.unlink(missing_ok=True)
    return card


def save(path: str | Path, model: Ensemble, card: StelNetCard) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    torch.save({"card": asdict(card), "state": model.state_dict()}, path)


def load(path: str | Path) -> tuple[Ensemble, StelNetCard]:
    """An ensemble file read with weights_only=True; anything else is a clear error naming the file."""
    import pickle
    import struct

    try:
        saved = torch.load(path, map_location="cpu", weights_only=True)
        card = StelNetCard.from_dict(saved["card"], path)
    except (OSError, RuntimeError, KeyError, TypeError, pickle.UnpicklingError, struct.error, EOFError) as error:
        raise InputError(path, f"is not a StelNet ensemble file ({type(error).__name__}: {error})") from error
    model = Ensemble(card.members, len(card.inputs), len(card.outputs), card.hidden_layers, card.width)
    model.load_state_dict(saved["state"])
    return model.eval(), card


def merge(parts: list[tuple[Ensemble, StelNetCard]]) -> tuple[Ensemble, StelNetCard]:
    """The groups of one branch's ensemble as one ensemble (members in index order)."""
    parts = sorted(parts, key=lambda p: p[1].members[0])
    card = StelNetCard(**{**asdict(parts[0][1]), "members": [k for _, c in parts for k in c.members]})
    for _, c in parts[1:]:
        if (c.branch, c.inputs, c.x_min, c.y_min, c.x_max, c.y_max) != (card.branch, card.inputs, card.x_min,
                                                                        card.y_min, card.x_max, card.y_max):
            raise InputError(c.branch, "ensemble groups trained on different samples cannot be merged")
    model = Ensemble(card.members, len(card.inputs), len(card.outputs), card.hidden_layers, card.width)
    with torch.no_grad():
        for name, p in model.named_parameters():
            p.copy_(torch.cat([dict(m.named_parameters())[name] for m, _ in parts]))
    return model.eval(), card


def predict(model: Ensemble, card: StelNetCard, x: np.ndarray) -> np.ndarray:
    """Every member's (log age, log mass) for inputs ``x`` [points, inputs] in physical units: [members, points, 2]."""
    xs = torch.as_tensor(scale(x, np.asarray(card.x_min), np.asarray(card.x_max)), dtype=torch.float32)
    with torch.no_grad():
        y = model(xs).numpy().astype(np.float64)
    lo, hi = np.asarray(card.y_min), np.asarray(card.y_max)
    return y * (hi - lo) + lo
