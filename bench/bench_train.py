"""Training throughput: the data loader (windows cut from the in-memory store, masked for pretraining) against
the training step it feeds (forward, backward, optimiser step through astroflow.train.Trainer), in windows/s.

The loader must outpace the step by a wide margin for the model never to wait for data; the ratio is printed.
The survey is the embedded simulated one (MACHO-like B and R), as the default workflow makes it.

    python bench/bench_train.py [--model astromer-tiny] [--batch 64] [--steps 30] [--threads 1] [--objects 200]
"""
from __future__ import annotations

import argparse
import tempfile
import time

import numpy as np
import torch

from astroflow import models
from astroflow.clean import clean
from astroflow.models.masking import mask_batch
from astroflow.sources.simulate import CLASSES, simulate_survey
from astroflow.store import LightCurveStore, write_store
from astroflow.train.data import Windows
from astroflow.train.tasks import MaskedReconstruction, Reconstructor
from astroflow.train.trainer import TrainConfig, Trainer, step_seed, to_device


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="astromer-tiny")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--objects", type=int, default=200, help="simulated objects per class")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    with tempfile.TemporaryDirectory() as tmp:
        cat = simulate_survey(args.objects, seed=0)
        write_store(clean(cat)[0], f"{tmp}/s.zarr", class_names=list(CLASSES))
        ragged = LightCurveStore(f"{tmp}/s.zarr").load()
        config = models.model_config(args.model)
        index = np.arange(len(ragged))
        windows = Windows(ragged, index, config.window, 0)
        task = MaskedReconstruction(windows, Windows(ragged, index[:64], config.window, 0), args.batch)

        start = time.perf_counter()
        for step in range(args.steps * 5):
            seed = step_seed(0, step)
            batch = to_device(task.batch(np.random.default_rng(seed), step), torch.device("cpu"))
            mask_batch(batch, torch.Generator().manual_seed(seed))
        loader = args.steps * 5 * args.batch / (time.perf_counter() - start)

        torch.manual_seed(0)
        model = Reconstructor(models.build(args.model))
        train = TrainConfig(max_steps=args.steps, batch_size=args.batch, eval_every=10**9, checkpoint_every=10**9)
        trainer = Trainer(train, f"{tmp}/work")
        start = time.perf_counter()
        trainer.fit(model, task)
        step = args.steps * args.batch / (time.perf_counter() - start)

    print(f"{args.model}: window {config.window}, batch {args.batch}, {args.threads} thread(s), {trainer.device}")
    print(f"loader (windows + masks): {loader:10.0f} windows/s")
    print(f"training step:            {step:10.0f} windows/s")
    print(f"loader / step:            {loader / step:10.1f}x")


if __name__ == "__main__":
    main()
