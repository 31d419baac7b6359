"""Light-curve image rendering: images per second on one core, fast renderer vs matplotlib, and their agreement.

Run: python bench/bench_render.py [--objects 512] [--points 100] [--reference 64]
Draws 256x256 overlay images of simulated two-band light curves (points per band as given) with error bars, line
and markers; prints the fast renderer's first call (numba compiles its kernels, or loads them from its cache), rates
on one core, their ratio and the mean and min SSIM of fast against matplotlib over the reference sample.
"""
from __future__ import annotations

import argparse
import time

import numpy as np

from astroflow.ragged import Ragged
from astroflow.represent.images import render_lightcurves
from astroflow.represent.raster import ssim


def simulate(n_objects: int, points: int, n_bands: int = 2, seed: int = 0) -> Ragged:
    """Noisy sinusoidal variables in magnitudes, bands sampled at independent random times."""
    rng = np.random.default_rng(seed)
    n = points * n_bands
    time_ = np.sort(rng.uniform(0, 1000, (n_objects, n)), axis=1)
    band = rng.integers(0, n_bands, (n_objects, n))
    period = rng.uniform(0.3, 30, (n_objects, 1))
    amplitude = rng.uniform(0.1, 1.0, (n_objects, 1))
    error = rng.uniform(0.02, 0.1, (n_objects, n)) * amplitude
    value = 15 + 0.3 * band + amplitude * np.sin(2 * np.pi * time_ / period) + rng.normal(0, 1, (n_objects, n)) * error
    names = ["B", "R"] if n_bands == 2 else list("ugrizy"[:n_bands])
    return Ragged(time=time_.ravel(), value=value.ravel().astype(np.float32), error=error.ravel().astype(np.float32),
                  band=band.ravel().astype(np.int8), row_size=np.full(n_objects, n), bands=names)


def rate(renderer: str, ragged: Ragged, repeat: int = 3) -> tuple[float, np.ndarray]:
    """Images per second of CPU time (this process only, so other load on the machine matters less); best of
    ``repeat``."""
    best = np.inf
    for _ in range(repeat):
        start = time.process_time()
        images = render_lightcurves(ragged, layout="overlay", size=256, renderer=renderer)
        best = min(best, time.process_time() - start)
    return len(ragged) / best, images


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--objects", type=int, default=512, help="light curves for the fast renderer")
    parser.add_argument("--points", type=int, default=100, help="observations per band")
    parser.add_argument("--reference", type=int, default=64, help="light curves for matplotlib and the SSIM")
    args = parser.parse_args()
    ragged = simulate(args.objects, args.points)
    start = time.perf_counter()
    render_lightcurves(ragged.subset(np.arange(2)))
    first_call = time.perf_counter() - start
    render_lightcurves(ragged.subset(np.arange(2)), renderer="matplotlib")  # warm-up: imports, caches
    fast_rate, _ = rate("fast", ragged)
    sample = ragged.subset(np.arange(args.reference))
    reference_rate, reference = rate("matplotlib", sample, repeat=2)
    fast = render_lightcurves(sample)
    scores = [ssim(a, b) for a, b in zip(fast, reference)]
    print(f"256x256 two-band overlay images, {args.points} points per band, one core")
    print(f"fast renderer's first call (compile or cache load): {first_call:.2f} s")
    print(f"fast renderer:       {fast_rate:10.1f} images/s ({args.objects} images)")
    print(f"matplotlib (Agg):    {reference_rate:10.1f} images/s ({args.reference} images)")
    print(f"speed-up:            {fast_rate / reference_rate:10.1f}x")
    print(f"SSIM fast vs matplotlib: mean {np.mean(scores):.4f}, min {np.min(scores):.4f} over {len(scores)} images")


if __name__ == "__main__":
    main()
