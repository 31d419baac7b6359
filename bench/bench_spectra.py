"""Spectra throughput on one core: spectrum images drawn, and spectra per CPU-second in training and inference of
the image route (Spectromer ViT) against the direct route (1-D CNN on the flux vector) and the baselines.

Run: python bench/bench_spectra.py [--spectra 512] [--steps 10] [--batch 32] [--model spectromer-micro]
Simulates spectra on the SDSS grid, builds a store in a temporary folder, and times on one thread (CPU time of
this process, so other load on the machine matters less): rendering of the model's images, training steps
(forward, backward, AdamW), inference, and forest and SVM fitting and prediction. Prints rates and the ratios
ViT / CNN.
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from astroflow.spectra import inputs
from astroflow.spectra.evaluate import load, predict
from astroflow.spectra.models import SpectrumCard, build, network_settings
from astroflow.spectra.store import build as build_store
from astroflow.spectra.store import open_store
from astroflow.spectra.train import split, train


def cpu_rate(n: int, work) -> float:
    start = time.process_time()
    work()
    return n / max(time.process_time() - start, 1e-9)


def train_rate(name: str, x: np.ndarray, steps: int, batch: int) -> float:
    card = SpectrumCard(name, network_settings(name, {}, 18), [], [], [], True)
    model = build(card)
    key = "image" if "kind" in card.settings else "vector"
    optimiser = torch.optim.AdamW(model.parameters(), lr=1e-3)
    rng = np.random.default_rng(0)

    def step():
        out = model({key: torch.from_numpy(x[rng.integers(0, len(x), batch)])})
        out.square().mean().backward()
        optimiser.step()
        optimiser.zero_grad()

    step()  # warm-up
    return cpu_rate(steps * batch, lambda: [step() for _ in range(steps)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spectra", type=int, default=512)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--model", default="spectromer-micro")
    args = parser.parse_args()
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        build_store(tmp / "s.zarr", tmp / "qc.parquet", {}, simulate={"n_spectra": args.spectra})
        ds = open_store(tmp / "s.zarr")
        ds = ds.load()
        rows = np.arange(args.spectra)
        settings = network_settings(args.model, {}, 1)
        render = cpu_rate(args.spectra, lambda: inputs.images(ds, rows, **inputs.drawing(settings)))
        images = inputs.images(ds, rows, **inputs.drawing(settings))
        vectors = inputs.vectors(ds, rows)
        rates = {"render": render,
                 "train_vit": train_rate(args.model, images, args.steps, args.batch),
                 "train_cnn": train_rate("spectrum-cnn", vectors, args.steps, args.batch)}
        split(tmp / "s.zarr", tmp / "split.parquet", 0, 0.2, 0.2)
        n_train = int((np.asarray(open_store(tmp / "s.zarr")["object_id"]).size) * 0.64)
        for model in (args.model, "spectrum-cnn", "forest", "svm"):
            ext = "joblib" if model in ("forest", "svm") else "pt"
            path = tmp / f"{model}.{ext}"
            start = time.process_time()
            train(model, 0, tmp / "s.zarr", tmp / "split.parquet", path, tmp / f"{model}.csv", tmp / model,
                  {"max_steps": 2, "eval_every": 2}, threads=1)
            if ext == "joblib":
                rates[f"train_{model}"] = n_train / (time.process_time() - start)
            card, fitted = load(path)
            rates[f"infer_{model}"] = cpu_rate(args.spectra, lambda c=card, f=fitted: predict(c, f, ds, rows))
    for name, value in rates.items():
        print(f"{name:28s} {value:10.1f} spectra per CPU-second")
    print(f"ratio train ViT / CNN      {rates['train_vit'] / rates['train_cnn']:.2f}")
    print(f"ratio infer ViT / CNN      {rates[f'infer_{args.model}'] / rates['infer_spectrum-cnn']:.2f} "
          "(ViT inference includes drawing the images)")


if __name__ == "__main__":
    main()
