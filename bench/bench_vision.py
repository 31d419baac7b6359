"""Image classifiers: training and inference throughput with rendering included, and rendering's share of it.

Run: python bench/bench_vision.py [--presets swinv2-micro vit-micro swinv2-tiny-w8] [--threads 1] [--points 100]
A training step draws a batch through the Images input source (augmented rendering of simulated two-band light
curves) and takes one AdamW step; inference renders un-augmented images and runs the model without gradients.
The reference in the same run is the model's own time: the ratio says how much rendering adds to each step.
Runs on CUDA when present (rendering stays on the CPU), else on ``--threads`` CPU threads (default one: rates
per core, in CPU time).
"""
from __future__ import annotations

import argparse
import time
from dataclasses import replace

import numpy as np
import torch
import torch.nn.functional as F

from astroflow.models.vision import PRESETS, ImageClassifier
from astroflow.train.inputs import Images
from astroflow.train.trainer import device, to_device
from bench_render import simulate

# Batch size and steps per preset family: enough steps for a stable rate, few for the 28M-parameter SwinV2.
SCHEDULE = {"micro": (64, 40), "default": (16, 3)}


def timed(fn, dev: torch.device, *args):
    """``fn(*args)`` and its seconds: of this process's CPU time on the CPU (other load on a shared machine
    matters less, as in bench_render.py), of the wall clock on CUDA (its work finished)."""
    clock = time.process_time if dev.type == "cpu" else time.perf_counter
    start = clock()
    out = fn(*args)
    if dev.type == "cuda":
        torch.cuda.synchronize()
    return out, clock() - start


def measure(name: str, source: Images, dev: torch.device) -> dict[str, float]:
    """Seconds per image of rendering and of the model (fastest step), in training and in inference."""
    batch_size, steps = SCHEDULE["micro" if "micro" in name else "default"]
    torch.manual_seed(0)
    config = replace(PRESETS[name], n_classes=int(source.ragged.label.max()) + 1)
    model = ImageClassifier(config).to(dev)
    optimizer = torch.optim.AdamW(model.param_groups(0.05), lr=1e-4)
    rng = np.random.default_rng(0)

    def train_step(batch):
        batch = to_device(batch, dev)
        loss = F.cross_entropy(model(batch), batch["label"])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    def draw():
        return source.random(rng.integers(0, len(source.index), batch_size), rng)

    def infer(batch):
        return model(to_device(batch, dev))

    for _ in range(2):  # warm-up: allocations, kernel choice
        train_step(draw())
        with torch.no_grad():
            infer(source.all(np.arange(batch_size)))
    times = {"train_render": [], "train_model": [], "infer_render": [], "infer_model": []}
    model.train()
    for _ in range(steps):
        batch, seconds = timed(draw, dev)
        times["train_render"].append(seconds)
        times["train_model"].append(timed(train_step, dev, batch)[1])
    model.eval()
    with torch.no_grad():
        for step in range(steps):
            rows = np.arange(step * batch_size, (step + 1) * batch_size) % len(source.index)
            batch, seconds = timed(source.all, dev, rows)
            times["infer_render"].append(seconds)
            times["infer_model"].append(timed(infer, dev, batch)[1])
    # The fastest step (as bench_render.py takes the best run): other work on a shared machine only slows steps.
    return {k: min(v) / batch_size for k, v in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presets", nargs="+", default=["swinv2-micro", "vit-micro", "swinv2-micro-grid",
                                                         "swinv2-tiny-w8"])
    parser.add_argument("--objects", type=int, default=256)
    parser.add_argument("--points", type=int, default=100, help="observations per band")
    parser.add_argument("--threads", type=int, default=1, help="torch threads on the CPU")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    dev = device()
    ragged = simulate(args.objects, args.points)
    ragged.label = np.arange(args.objects) % 4
    print(f"{dev.type}, {torch.get_num_threads()} torch threads; two-band light curves, {args.points} points per "
          "band; images/s with rendering included; render/model = rendering time over model time")
    print(f"{'preset':<22}{'px':>5}{'train img/s':>13}{'render/model':>14}{'infer img/s':>13}{'render/model':>14}")
    for name in args.presets:
        config = PRESETS[name]
        source = Images(ragged, np.arange(args.objects), {"layout": config.layout, "size": config.image_size})
        t = measure(name, source, dev)
        train, infer = t["train_render"] + t["train_model"], t["infer_render"] + t["infer_model"]
        print(f"{name:<22}{config.image_size:>5}{1 / train:>13.1f}{t['train_render'] / t['train_model']:>14.3f}"
              f"{1 / infer:>13.1f}{t['infer_render'] / t['infer_model']:>14.3f}")


if __name__ == "__main__":
    main()
