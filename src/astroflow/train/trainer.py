"""One training loop for every model: seeded steps, bf16 autocast on CUDA, checkpoints, exact resume, early stopping.

A plain PyTorch loop rather than a framework's: what a step sees (its batch, its masking, its dropout) is a pure
function of (seed, step), so a run killed and resumed from its last checkpoint ends with the same weights, bit
for bit on CPU, as one that never stopped. Data parallel training runs under ``torchrun``: every rank draws the
same global batch and keeps its own slice (see distributed.py).

Batches are drawn in torch DataLoader worker processes (``workers``; 0 draws them in a thread of this process while
the step before trains), in step order.

A task (tasks.py) says what a step is: ``batch(rng, step)`` draws a global batch of numpy arrays, ``loss(model, batch,
generator)`` gives the loss and metrics to log, ``validate(model)`` gives validation metrics, lower
``task.monitor`` being better.
"""
from __future__ import annotations

import contextlib
import csv
import hashlib
import logging
import math
import os
import pickle
import shutil
import struct
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np
import torch
from torch import Tensor, nn

from astroflow.errors import AstroflowError
from astroflow.logs import progress
from astroflow.provenance import config_hash
from astroflow.train import distributed, streaming

log = logging.getLogger(__name__)
Batch = dict[str, Tensor]
RECENT = 20  # training steps whose mean loss a progress line gives


class TrainingError(AstroflowError):
    """Training that cannot go on (a non-finite loss): says which run, step and objects."""


@dataclass
class TrainConfig:
    """Optimisation and bookkeeping settings of one run (the config's train.pretrain / train.finetune)."""

    max_steps: int = 1000
    batch_size: int = 64
    lr: float = 1e-3
    weight_decay: float = 0.01
    warmup_steps: int = 50  # linear warm-up, then cosine decay to lr / 10 at max_steps
    grad_clip: float = 1.0  # largest gradient norm; 0 disables clipping
    eval_every: int = 50
    checkpoint_every: int = 50
    patience: int = 5  # validations without improvement before stopping; 0 never stops early
    layer_decay: float = 1.0  # learning rate scale per layer down from the top, for models with param_groups
    seed: int = 0


class Task(Protocol):
    monitor: str

    def batch(self, rng: np.random.Generator, step: int) -> dict[str, np.ndarray]: ...

    def loss(self, model: nn.Module, batch: Batch, generator: torch.Generator) -> tuple[Tensor, dict[str, float]]: ...

    def validate(self, model: nn.Module) -> dict[str, float]: ...


def device() -> torch.device:
    """CUDA when present (the local rank's GPU under torchrun), else CPU."""
    if torch.cuda.is_available():
        return torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
    return torch.device("cpu")


def use_threads(threads: int | None) -> None:
    """Give torch the job's CPU threads (a Snakemake job's ``threads``); None leaves torch's choice."""
    if threads:
        torch.set_num_threads(threads)


def model_device(model: nn.Module) -> torch.device:
    return next(model.parameters()).device


def autocast(dev: torch.device) -> contextlib.AbstractContextManager:
    """bf16 mixed precision on CUDA; full fp32 elsewhere (CPU results stay exact and reproducible)."""
    if dev.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def step_seed(seed: int, step: int) -> int:
    """A seed for step ``step`` of a run seeded ``seed``, independent of every other step's."""
    return int(np.random.SeedSequence([seed, step]).generate_state(1, dtype=np.uint64)[0] >> 1)


def to_device(batch: dict[str, np.ndarray], dev: torch.device) -> Batch:
    return {k: torch.from_numpy(np.ascontiguousarray(v)).to(dev, non_blocking=True) for k, v in batch.items()}


def learning_rate(config: TrainConfig, step: int) -> float:
    """Linear warm-up over ``warmup_steps``, then cosine decay from ``lr`` to ``lr / 10`` at ``max_steps``."""
    if step < config.warmup_steps:
        return config.lr * (step + 1) / config.warmup_steps
    span = max(config.max_steps - config.warmup_steps, 1)
    done = min((step - config.warmup_steps) / span, 1.0)
    return config.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * done)))


def param_groups(model: nn.Module, config: TrainConfig) -> list[dict]:
    """The optimiser's parameter groups: the model's own (``param_groups(weight_decay, layer_decay)``, each with
    an ``lr_scale``, e.g. layer-wise decay of an image model) or one group of every trainable parameter."""
    if hasattr(model, "param_groups"):
        return model.param_groups(config.weight_decay, config.layer_decay)
    return [{"params": [p for p in model.parameters() if p.requires_grad]}]


def fingerprint(*parts) -> str:
    """A short hash of what defines a run, so a checkpoint of another setup is never resumed."""
    return config_hash(parts)


def data_id(ragged, role: np.ndarray) -> str:
    """A hash of the objects, their sizes, labels and roles: a checkpoint of other data is never resumed."""
    h = hashlib.sha256()
    for part in (ragged.object_id.astype(str), ragged.row_size, ragged.label, role.astype(str)):
        h.update("\x1f".join(map(str, part)).encode())
    return h.hexdigest()


def finish(trainer: Trainer, out_metrics: str | Path) -> None:
    """Keep the run's metrics as an output and drop its checkpoint folder: checkpoints exist for unfinished runs."""
    shutil.copyfile(trainer.metrics_path, out_metrics)
    shutil.rmtree(trainer.workdir)


@dataclass
class Run:
    """What one ``fit`` works on: the model (and its data-parallel wrapper), task, optimiser and progress."""

    model: nn.Module
    wrapped: nn.Module
    task: Task
    optimizer: torch.optim.Optimizer
    params: list[nn.Parameter]
    state: dict  # step, best validation value, validations without improvement, best weights, stopped, seconds
    writer: MetricsWriter | None
    started: float  # the monotonic clock at step 0, as if the run had never stopped (resumes count their earlier part)
    recent: deque = field(default_factory=lambda: deque(maxlen=RECENT))  # the last steps' training losses
    validated: str = ""  # the last validation's monitored value, for progress lines

    def status(self, max_steps: int) -> str:
        """Where the run stands: its step, the mean training loss of its last steps, its last validation."""
        loss = f"loss {np.mean(self.recent):.4g}" if self.recent else "loss -"
        return f"step {self.state['step']}/{max_steps} {loss}" + (f", {self.validated}" if self.validated else "")


class Trainer:
    """Fits a model to a task in ``workdir`` (checkpoint ``last.pt``, metrics ``metrics.csv``), resuming there;
    ``workers`` DataLoader processes draw the batches (they never change a batch, so they are not in the run id).
    ``name`` (model and run, e.g. ``astromer-tiny pretrained n20 f0 s0``) begins every log line of the run."""

    def __init__(self, config: TrainConfig, workdir: str | Path, run_id: str = "", workers: int = 0, name: str = ""):
        self.config, self.workers = config, workers
        self.seconds = 0.0  # wall time of the training steps and validations, resumed runs' earlier parts included
        self.name = name or str(workdir)
        self.workdir = Path(workdir)
        self.run_id = fingerprint(asdict(config), run_id)
        distributed.setup()
        self.device = device()

    @property
    def checkpoint_path(self) -> Path:
        return self.workdir / "last.pt"

    @property
    def metrics_path(self) -> Path:
        return self.workdir / "metrics.csv"

    def fit(self, model: nn.Module, task: Task) -> nn.Module:
        """Train ``model`` in place and load into it the weights of its best validation; returns it."""
        model.to(self.device)
        params = [p for p in model.parameters() if p.requires_grad]
        optimizer = torch.optim.AdamW(param_groups(model, self.config), lr=self.config.lr,
                                      weight_decay=self.config.weight_decay)
        state = {"step": 0, "best": math.inf, "bad": 0, "best_state": None, "stopped": False, "seconds": 0.0}
        state.update(self._resume(model, optimizer))
        writer = MetricsWriter(self.metrics_path, state["step"]) if distributed.is_main() else None
        run = Run(model, distributed.wrap(model, self.device), task, optimizer, params, state, writer,
                  started=time.monotonic() - state["seconds"])
        try:
            self._loop(run)
        finally:
            if writer:
                writer.flush()
        if state["best_state"] is not None:
            model.load_state_dict(state["best_state"])
        self.seconds = state["seconds"]
        return model

    def _loop(self, run: Run) -> None:
        cfg = self.config
        steps = range(run.state["step"], cfg.max_steps) if not run.state["stopped"] else range(0)
        batches = torch.utils.data.DataLoader(
            StepBatches(run.task, cfg.seed, distributed.rank_slice()), batch_size=None, sampler=steps,
            num_workers=self.workers, collate_fn=streaming.as_is, prefetch_factor=2 if self.workers else None)
        # The next batch is fetched while this step trains (a batch depends on its step only, so order is kept).
        with ThreadPoolExecutor(max_workers=1) as loader:
            queue = iter(batches)
            upcoming = loader.submit(next, queue) if len(steps) else None
            for step in progress(steps, self.name, every_s=30, status=lambda: run.status(cfg.max_steps)):
                batch = upcoming.result()
                if step + 1 < steps.stop:
                    upcoming = loader.submit(next, queue)
                self._step(run, step, batch)
                if run.state["stopped"]:
                    log.info("%s: early stop at step %d: no better %s for %d validations", self.name, step + 1,
                             run.task.monitor, cfg.patience)
                    break

    def _step(self, run: Run, step: int, batch: dict[str, np.ndarray]) -> None:
        """One optimisation step, then validation and checkpoint when due."""
        cfg, state = self.config, run.state
        seed = step_seed(cfg.seed, step)
        torch.manual_seed(seed)  # dropout
        for group in run.optimizer.param_groups:
            group["lr"] = learning_rate(cfg, step) * group.get("lr_scale", 1.0)
        run.model.train()
        with autocast(self.device):
            loss, metrics = run.task.loss(run.wrapped, to_device(batch, self.device),
                                          torch.Generator().manual_seed(seed))
        if not torch.isfinite(loss.detach()):
            raise TrainingError(f"{self.workdir}: loss is {float(loss.detach())} at step {step + 1}; the batch held "
                                f"{describe_objects(batch_objects(run.task, batch))}: check their values (the QC "
                                "table, astroflow info) or lower the learning rate. Nothing was saved from this step.")
        run.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if cfg.grad_clip:
            torch.nn.utils.clip_grad_norm_(run.params, cfg.grad_clip)
        run.optimizer.step()
        state["step"] = step + 1
        row = {"step": step + 1, "lr": learning_rate(cfg, step), "loss": float(loss.detach()), **metrics}
        run.recent.append(row["loss"])
        if state["step"] % cfg.eval_every == 0 or state["step"] == cfg.max_steps:
            row.update(self._validate(run.model, run.task, state))
            monitor = f"val_{run.task.monitor}"
            run.validated = f"{monitor} {row[monitor]:.4g}"
        state["seconds"] = time.monotonic() - run.started
        if run.writer:
            run.writer.write(row)
        if state["step"] % cfg.checkpoint_every == 0 or state["stopped"] or state["step"] == cfg.max_steps:
            if run.writer:  # the rows up to the checkpoint must survive a kill before the next one
                run.writer.flush()
            self._save(run.model, run.optimizer, state)

    def _validate(self, model: nn.Module, task: Task, state: dict) -> dict[str, float]:
        model.eval()
        with torch.no_grad(), autocast(self.device):
            metrics = {f"val_{k}": v for k, v in task.validate(model).items()}
        value = metrics[f"val_{task.monitor}"]
        if value < state["best"]:
            state.update(best=value, bad=0, best_state={k: v.detach().clone() for k, v in model.state_dict().items()})
        else:
            state["bad"] += 1
            state["stopped"] = bool(self.config.patience) and state["bad"] >= self.config.patience
        log.info("%s: step %d/%d validation: %s", self.name, state["step"], self.config.max_steps,
                 ", ".join(f"{k} {v:.4g}" for k, v in metrics.items()))
        return metrics

    def _save(self, model: nn.Module, optimizer: torch.optim.Optimizer, state: dict) -> None:
        if not distributed.is_main():
            return
        self.workdir.mkdir(parents=True, exist_ok=True)
        tmp = self.checkpoint_path.with_suffix(".tmp")
        torch.save({"run_id": self.run_id, "model": model.state_dict(), "optimizer": optimizer.state_dict(),
                    **state}, tmp)
        tmp.replace(self.checkpoint_path)  # atomic: a kill while saving leaves the previous checkpoint

    def _resume(self, model: nn.Module, optimizer: torch.optim.Optimizer) -> dict:
        if not self.checkpoint_path.exists():
            return {}
        try:
            saved = torch.load(self.checkpoint_path, map_location=self.device, weights_only=True)
            run_id = saved.get("run_id")
        except (pickle.UnpicklingError, struct.error, EOFError, RuntimeError, AttributeError) as error:
            raise TrainingError(f"{self.checkpoint_path}: not a checkpoint this trainer wrote (truncated, tampered, or "
                                f"holding code; {type(error).__name__}); delete it to train this run afresh") from None
        if run_id != self.run_id:
            log.warning("%s: %s is a checkpoint of another setup: starting afresh", self.name, self.checkpoint_path)
            return {}
        model.load_state_dict(saved.pop("model"))
        optimizer.load_state_dict(saved.pop("optimizer"))
        log.info("%s: resuming from step %d (%s)", self.name, saved["step"], self.checkpoint_path)
        return {k: saved[k] for k in ("step", "best", "bad", "best_state", "stopped")} | {
            "seconds": saved.get("seconds", 0.0)}


def batch_objects(task: Task, batch: dict[str, np.ndarray]) -> list[str]:
    """The ids of the objects in a batch (its ``index`` into the task's training light curves)."""
    ragged = getattr(getattr(task, "train", None), "ragged", None)
    if ragged is None or "index" not in batch:
        return []
    return list(dict.fromkeys(ragged.object_id[np.asarray(batch["index"])].tolist()))


def describe_objects(ids: list[str], most: int = 20) -> str:
    if not ids:
        return "objects the task does not name"
    more = f" and {len(ids) - most} more" if len(ids) > most else ""
    return f"{len(ids)} objects: {', '.join(map(str, ids[:most]))}{more}"


class StepBatches(torch.utils.data.Dataset):
    """Step ``step``'s batch (this rank's rows of it), drawn with the step's own seed."""

    def __init__(self, task: Task, seed: int, rows: slice):
        self.task, self.seed, self.rows = task, seed, rows

    def __getitem__(self, step: int) -> dict[str, np.ndarray]:
        batch = self.task.batch(np.random.default_rng(step_seed(self.seed, step)), step)
        return {k: v[self.rows] for k, v in batch.items()}


class MetricsWriter:
    """Rows of metrics appended to a CSV file; on resume, rows after the checkpoint's step are dropped (they are
    trained again). The columns are those of the first row plus any later ones."""

    def __init__(self, path: Path, resume_step: int):
        self.path = path
        self.rows: list[dict] = []
        if resume_step and path.exists():
            with path.open() as f:
                self.rows = [r for r in csv.DictReader(f) if int(r["step"]) <= resume_step]
        path.parent.mkdir(parents=True, exist_ok=True)
        self.flush()

    def write(self, row: dict) -> None:
        self.rows.append(row)
        if len(self.rows) % 20 == 0 or any(k.startswith("val_") for k in row):
            self.flush()

    def flush(self) -> None:
        columns = list(dict.fromkeys(k for r in self.rows for k in r)) or ["step"]
        with self.path.open("w", newline="") as f:
            writer = csv.DictWriter(f, columns)
            writer.writeheader()
            writer.writerows(self.rows)
