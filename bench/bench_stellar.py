"""StelNet speed: an ensemble trained vectorised (all members in one batched step) against the same members trained
one after another, and `astroflow stellar`'s rate (stars a second through the mixture posterior) against one plain
forward pass of one ensemble, same run, CPU time on one thread (busy machines do not skew the ratios).

Run: python bench/bench_stellar.py [--members 5] [--points 2000] [--epochs 100] [--stars 2000] [--draws 50]
Data: random points in the unit square (training speed does not depend on the values); stars on the MIST grid.
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from astroflow.stellar import model as nets
from astroflow.stellar.grids import GridConfig, build
from astroflow.stellar.posterior import PriorConfig, StelNet


def cpu_seconds(fn) -> float:
    start = time.process_time()
    fn()
    return time.process_time() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=5)
    parser.add_argument("--points", type=int, default=2000)
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--stars", type=int, default=2000)
    parser.add_argument("--draws", type=int, default=50)
    args = parser.parse_args()
    torch.set_num_threads(1)
    rng = np.random.default_rng(0)
    x, y = rng.random((args.points, 2)), rng.random((args.points, 2))
    cfg = nets.TrainConfig(members=args.members, epochs=args.epochs, log_every=args.epochs)
    members = list(range(args.members))
    nets.fit(x, y, nets.TrainConfig(epochs=2), [0])  # warm-up: torch's first-call setup is not training
    together = cpu_seconds(lambda: nets.fit(x, y, cfg, members))
    alone = cpu_seconds(lambda: [nets.fit(x, y, cfg, [k]) for k in members])
    steps = args.members * args.points * args.epochs
    print(f"training {args.members} members x {args.points} points x {args.epochs} epochs: vectorised "
          f"{together:.1f} s ({steps / together:,.0f} member-points/s), one by one {alone:.1f} s; "
          f"ratio {alone / together:.2f}x")

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        samples = build(GridConfig(samples=500), root / "samples.parquet", root / "tables.npz")
        small = nets.TrainConfig(members=args.members, epochs=2)
        for branch in ("pre", "post"):
            nets.train(root / "samples.parquet", branch, 0, small, root / f"{branch}.pt")
        net = StelNet([root / "pre.pt", root / "post.pt"], root / "tables.npz", PriorConfig(draws=args.draws))
        stars = samples.sample(args.stars, replace=True, random_state=0)[net.inputs].to_numpy()
        sigma = np.full_like(stars, 0.01)
        posterior = cpu_seconds(lambda: net.posterior(stars, sigma))
        model, card = net.nets["post"]
        forward = cpu_seconds(lambda: nets.predict(model, card, stars))
    print(f"posterior of {args.stars} stars ({args.members} members x 2 branches x {args.draws} draws): "
          f"{args.stars / posterior:,.0f} stars/s; one forward pass {args.stars / forward:,.0f} stars/s; "
          f"ratio {posterior / forward:.0f}x the forward pass")


if __name__ == "__main__":
    main()
