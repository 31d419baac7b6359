"""Training reads: random 200-point windows per second from the store against per-object files, and window
building per second for 100,000 light curves, each against a per-object loop in the same run.

Run: python bench/bench_reads.py [--objects 20000] [--min-points 50] [--max-points 1000] [--batch 256]
     [--build-objects 100000]
Reads: a store of --objects light curves is loaded once (LightCurveStore.load) and cut into batches of random
windows (random_windows); the reference loads one .npy file per window (time, value, error, band of one object)
and cuts, pads and centres it in Python. Both draw the same objects. Building: random, sequential, per-band and
ATAT-capped windows for --build-objects light curves held in memory, against the same per-object loop.
"""
from __future__ import annotations

import argparse
import itertools
import os
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from astroflow.catalogue import Catalogue
from astroflow.ragged import Ragged
from astroflow.represent.windows import capped_windows, random_windows, sequential_windows
from astroflow.store import LightCurveStore, to_ragged, write_store
from bench_ingest import synthetic_table

LENGTH = 200


def catalogue(n_objects: int, min_points: int, max_points: int) -> Catalogue:
    obs = synthetic_table(n_objects, min_points, max_points, bad=False).to_pandas()
    objects = obs.groupby("object_id", sort=False, as_index=False)["label"].first()
    return Catalogue(obs=obs.drop(columns="label"), objects=objects, survey="synthetic", bands=["g", "r"])


def naive_windows(curves, index: np.ndarray, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """One window per object, the obvious way: slice, pad and centre each object in Python."""
    batch = {k: np.zeros((len(index), LENGTH), dtype=np.float32) for k in ("time", "value", "error")}
    batch["band"] = np.zeros((len(index), LENGTH), dtype=np.int64)
    batch["mask"] = np.zeros((len(index), LENGTH), dtype=bool)
    for row, i in enumerate(index):
        lc = curves(i)
        n = lc.shape[1]
        start = rng.integers(0, max(n - LENGTH, 0) + 1)
        w = lc[:, start:start + LENGTH]
        k = w.shape[1]
        batch["time"][row, :k] = w[0] - w[0].mean()
        batch["value"][row, :k] = w[1] - w[1].mean()
        batch["error"][row, :k] = w[2]
        batch["band"][row, :k] = w[3]
        batch["mask"][row, :k] = True
    return batch


def rate(fn, n_items: int, seconds: float = 3.0) -> float:
    """Items per second of ``fn`` (which makes ``n_items``), repeated for at least ``seconds`` after a warm-up."""
    fn()
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        fn()
        count += 1
    return count * n_items / (time.perf_counter() - start)


def reads(args, work: Path) -> None:
    cat = catalogue(args.objects, args.min_points, args.max_points)
    write_store(cat, work / "store.zarr")
    ragged = to_ragged(cat)
    files = work / "files"
    files.mkdir()
    for i in range(len(ragged)):
        lc = ragged.object(i)
        np.save(files / f"{i}.npy", np.stack([lc["time"], lc["value"], lc["error"], lc["band"]]))
    n = len(ragged)
    print(f"reads: {n} objects, {len(ragged.time)} observations, windows of {LENGTH}, batches of {args.batch}")

    start = time.perf_counter()
    loaded = LightCurveStore(work / "store.zarr").load()
    load_s = time.perf_counter() - start
    rng = np.random.default_rng(0)
    store_rate = rate(lambda: random_windows(loaded, rng.integers(0, n, args.batch), LENGTH, rng), args.batch)
    rng = np.random.default_rng(0)
    files_rate = rate(lambda: naive_windows(lambda i: np.load(files / f"{i}.npy"), rng.integers(0, n, args.batch),
                                            rng), args.batch)
    epoch = n / (load_s + n / store_rate)
    print(f"  store: load {load_s:.2f} s once, then {store_rate:10.0f} windows/s ({epoch:.0f}/s for a single "
          f"epoch of {n} windows counting the load)")
    print(f"  per-object .npy files:           {files_rate:10.0f} windows/s   ratio {store_rate / files_rate:6.1f}x")
    store = LightCurveStore(work / "store.zarr")
    rng = np.random.default_rng(0)
    jumping = rate(lambda: store.lightcurve(int(rng.integers(0, n))), 1, seconds=1.0)
    walk = itertools.cycle(range(n))
    in_order = rate(lambda: store.lightcurve(next(walk)), 1, seconds=1.0)
    print(f"  store.lightcurve(i) without loading: {jumping:8.0f} light curves/s at random, {in_order:8.0f}/s in order")


def build(args) -> None:
    rng = np.random.default_rng(1)
    sizes = rng.integers(20, 500, args.build_objects, endpoint=True)
    obj = np.repeat(np.arange(args.build_objects), sizes)
    t = 50000 + rng.uniform(0, 3000, len(obj))
    t = t[np.lexsort((t, obj))]
    ragged = Ragged(time=t, value=rng.normal(18, 1, len(t)).astype(np.float32),
                    error=np.full(len(t), 0.02, np.float32), band=rng.integers(0, 6, len(t)).astype(np.int8),
                    row_size=sizes, bands=list("ugrizy"))
    n, everything = len(ragged), np.arange(len(ragged))
    print(f"building: {n} light curves, 20-500 points ({len(t)} in all), 6 bands")
    found = {
        "random, merged bands": rate(lambda: random_windows(ragged, everything, LENGTH, 0), n),
        "random, one band": rate(lambda: random_windows(ragged, everything, LENGTH, 0, band="g"), n),
        "sequential (all windows)": rate(lambda: sequential_windows(ragged, everything, LENGTH), n),
        "capped, 65 per band x 6": rate(lambda: capped_windows(ragged, everything, cap=65, rng=0), n),
    }
    offsets = ragged.offset
    arrays = np.stack([ragged.time, ragged.value, ragged.error, ragged.band])
    rng = np.random.default_rng(0)
    loop = rate(lambda: naive_windows(lambda i: arrays[:, offsets[i]:offsets[i] + sizes[i]], everything, rng), n,
                seconds=1.0)
    for name, r in found.items():
        print(f"  {name:26s} {r:10.0f} light curves/s")
    ratio = found["random, merged bands"] / loop
    print(f"  per-object loop (random)   {loop:10.0f} light curves/s   ratio {ratio:.1f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--objects", type=int, default=20_000)
    parser.add_argument("--min-points", type=int, default=50)
    parser.add_argument("--max-points", type=int, default=1000)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--build-objects", type=int, default=100_000)
    args = parser.parse_args()
    print(f"{os.cpu_count()} cores")
    work = Path(tempfile.mkdtemp(prefix="bench_reads_"))
    try:
        reads(args, work)
    finally:
        shutil.rmtree(work)
    build(args)


if __name__ == "__main__":
    main()
