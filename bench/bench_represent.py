"""dt/dm sequences and DmDt maps: light curves per second, ours against a reference in the same run.

Run: python bench/bench_represent.py [--objects 100000] [--dmdt-objects 2000] [--min-points 20] [--max-points 300]
dt/dm (CNN form cut to 500, RNN form with windows of 4, stride 2) for --objects light curves, against a naive
loop over objects with np.diff; DmDt maps (23 x 24 cells) for --dmdt-objects light curves, against
light_curve.DmDt.points_many on one thread and on all cores. Checks that both sides give the same arrays.
"""
from __future__ import annotations

import argparse
import os
import time

import light_curve
import numpy as np

from astroflow.ragged import Ragged
from astroflow.represent.dmdt import DmDt
from astroflow.represent.dtdm import dtdm_cnn, dtdm_rnn

BORDERS = {"min_lgdt": -1.0, "max_lgdt": 3.0, "max_abs_dm": 2.0, "lgdt_size": 23, "dm_size": 24}


def simulate(n_objects: int, min_points: int, max_points: int, seed: int = 0) -> Ragged:
    """Single-band variables of varied length over a 3000-day survey, in magnitudes."""
    rng = np.random.default_rng(seed)
    sizes = rng.integers(min_points, max_points, n_objects, endpoint=True)
    obj = np.repeat(np.arange(n_objects), sizes)
    time_ = 50000 + rng.uniform(0, 3000, len(obj))
    time_ = time_[np.lexsort((time_, obj))]
    period, amplitude = rng.uniform(0.3, 300, n_objects)[obj], rng.uniform(0.05, 1.5, n_objects)[obj]
    value = 15 + amplitude * np.sin(2 * np.pi * time_ / period) + rng.normal(0, 0.05, len(obj))
    return Ragged(time=time_, value=value.astype(np.float32), error=np.full(len(obj), 0.05, np.float32),
                  band=np.zeros(len(obj), np.int8), row_size=sizes, bands=["V"])


def curves(ragged: Ragged) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per-object (time, value) views in float64, the form per-object code and light_curve take."""
    value = ragged.value.astype(np.float64)
    return [(ragged.time[o:o + n], value[o:o + n]) for o, n in zip(ragged.offset, ragged.row_size)]


def naive_cnn(lcs: list, length: int = 500) -> np.ndarray:
    out = np.zeros((len(lcs), 2, length), dtype=np.float32)
    for i, (t, m) in enumerate(lcs):
        n = min(len(t), length)
        if n >= 2:
            out[i, 0, 1:n] = np.diff(t[:n])
            out[i, 1, 1:n] = np.diff(m[:n])
    return out


def naive_rnn(lcs: list, window: int = 4, stride: int = 2) -> list[np.ndarray]:
    out = []
    for t, m in lcs:
        dt, dm = np.diff(t), np.diff(m)
        steps = range(max(0, (len(dt) - window) // stride + 1))
        out.append(np.array([np.concatenate([dt[k * stride:k * stride + window], dm[k * stride:k * stride + window]])
                             for k in steps], dtype=np.float32).reshape(-1, 2 * window))
    return out


def timed(fn, *args, repeat: int = 3):
    best, result = np.inf, None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn(*args)
        best = min(best, time.perf_counter() - start)
    return best, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--objects", type=int, default=100_000, help="light curves for dt/dm")
    parser.add_argument("--dmdt-objects", type=int, default=2000, help="light curves for DmDt maps")
    parser.add_argument("--min-points", type=int, default=20)
    parser.add_argument("--max-points", type=int, default=300)
    args = parser.parse_args()
    ragged = simulate(args.objects, args.min_points, args.max_points)
    lcs = curves(ragged)
    n = args.objects
    print(f"{n} light curves, {args.min_points}-{args.max_points} points ({len(ragged.time)} in all), "
          f"{os.cpu_count()} cores")

    ours, cnn = timed(dtdm_cnn, ragged, 500)
    naive, reference = timed(naive_cnn, lcs, 500)
    print(f"dt/dm CNN form   ours {n / ours:12.0f}/s   naive loop {n / naive:10.0f}/s   "
          f"ratio {naive / ours:6.1f}x   same: {np.array_equal(cnn.values, reference)}")

    ours, rnn = timed(dtdm_rnn, ragged)
    naive, reference = timed(naive_rnn, lcs)
    same = all(np.array_equal(rnn.values[i, :len(r)], r) for i, r in enumerate(reference))
    print(f"dt/dm RNN form   ours {n / ours:12.0f}/s   naive loop {n / naive:10.0f}/s   "
          f"ratio {naive / ours:6.1f}x   same: {same}")

    sample = ragged.subset(np.arange(args.dmdt_objects))
    lcs, m = curves(sample), args.dmdt_objects
    pairs = int((sample.row_size * (sample.row_size - 1) // 2).sum())
    ours, maps = timed(DmDt.from_borders(**BORDERS).maps, sample)
    one, reference = timed(light_curve.DmDt.from_borders(**BORDERS, n_jobs=1).points_many, lcs)
    every, _ = timed(light_curve.DmDt.from_borders(**BORDERS, n_jobs=-1).points_many, lcs)
    print(f"DmDt 23x24 maps of {m} light curves ({pairs} pairs), same: {np.array_equal(maps, reference)}")
    print(f"  ours (NumPy)               {m / ours:10.0f} maps/s  {pairs / ours / 1e6:7.1f} M pairs/s")
    print(f"  light_curve, 1 thread      {m / one:10.0f} maps/s  ratio ours/light_curve {one / ours:5.2f}")
    print(f"  light_curve, all cores     {m / every:10.0f} maps/s  ratio ours/light_curve {every / ours:5.2f}")


if __name__ == "__main__":
    main()
