"""Inference cost of each uncertainty method relative to one deterministic pass of the same classifier.

An Astromer classifier (mean-pooled head) over every window of simulated light curves; the HSA methods use the
same preset with hierarchical stochastic attention. Rates are CPU time on the chosen threads (so a busy machine
skews the ratios less); methods alternate round by round. Also shows what batching the T passes into one forward
over a T-times repeated batch saves against a forward per pass.

    python bench/bench_uncertainty.py [--preset astromer-tiny] [--objects 200] [--passes 10] [--members 5]
"""
from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from astroflow import models
from astroflow.clean import clean
from astroflow.models.heads import Classifier, MeanPoolHead
from astroflow.sources.simulate import simulate_survey
from astroflow.store import to_ragged
from astroflow.train.data import Windows
from astroflow.uncertainty import sampling


def classifier(name: str, seed: int) -> Classifier:
    torch.manual_seed(seed)
    encoder = models.build(name)
    return Classifier(encoder, MeanPoolHead(encoder.config.dim, 11, (256, 128))).eval()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="astromer-tiny")
    parser.add_argument("--objects", type=int, default=200, help="simulated objects (11 classes)")
    parser.add_argument("--passes", type=int, default=10)
    parser.add_argument("--members", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    ragged = to_ragged(clean(simulate_survey(max(1, args.objects // 11), seed=1, min_points=20, max_points=400))[0])
    window = models.model_config(args.preset).window
    inputs = Windows(ragged, np.arange(len(ragged)), window, 0)
    plain, hsa = classifier(args.preset, 0), classifier(args.preset + models.HSA_SUFFIX, 0)
    members = [classifier(args.preset, s) for s in range(args.members)]
    t = args.passes
    runs = {
        "deterministic": lambda: sampling.method_samples("deterministic", [plain], inputs, 1),
        f"mc_dropout T={t}": lambda: sampling.method_samples("mc_dropout", [plain], inputs, t),
        f"mc_dropout T={t}, a forward per pass": lambda: sampling.method_samples("mc_dropout", [plain], inputs, t,
                                                                                max_rows=1),
        f"hsa T={t}": lambda: sampling.method_samples("hsa", [hsa], inputs, t),
        f"ha_mc_dropout T={t}": lambda: sampling.method_samples("ha_mc_dropout", [hsa], inputs, t),
        f"ensemble M={args.members}": lambda: sampling.method_samples("ensemble", members, inputs, t),
    }
    seconds = dict.fromkeys(runs, 0.0)
    for fn in runs.values():  # warm-up
        fn()
    for _ in range(args.rounds):
        for name, fn in runs.items():
            start = time.process_time()
            fn()
            seconds[name] += time.process_time() - start
    n_windows = len(inputs.all()["mask"])
    print(f"{args.preset}: {len(ragged)} objects, {n_windows} windows of {window}, {args.threads} thread(s), "
          f"{args.rounds} rounds")
    base = seconds["deterministic"]
    for name, s in seconds.items():
        print(f"  {name:40s} {s / args.rounds:7.3f} CPU-s   x{s / base:5.1f} of one deterministic pass")


if __name__ == "__main__":
    main()
