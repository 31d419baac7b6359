"""Ingest: observations per second from CSV and Parquet through cleaning into the store, ours against a naive
pandas groupby + per-object loop in the same run.

Run: python bench/bench_ingest.py [--objects 100000] [--min-points 20] [--max-points 200] [--naive-objects 5000]
    [--repeats 3]
A synthetic long table (two bands, labels, unsorted times, a few bad rows) is written as CSV and Parquet; ours is
the long-table reader + astroflow.clean + write_store, timed per stage (wall time and CPU time, since pyarrow and
Blosc use threads), the run of least CPU time of --repeats: a process's first large allocations cost about half a
CPU-second of kernel time once (the memory pools growing), which would otherwise fall on whichever format came
first, and other jobs on a shared machine add noise. The naive reference (pandas read_csv, then per object and band: drop bad rows, sort, merge
repeated times, sigma-clip as the cleaner's defaults do; then write the same arrays to Zarr) runs on the first
--naive-objects objects, and ours runs on that same file too for a like-for-like ratio. The arrays both sides
write are checked to agree.
"""
from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import zarr

from astroflow.clean import MAD_TO_SIGMA, CleanConfig, clean
from astroflow.sources import formats
from astroflow.store import LightCurveStore, write_store

BANDS = ["g", "r"]
CLASSES = ["RRab", "RRc", "Cepheid", "EB", "QSO"]


def synthetic_table(n_objects: int, min_points: int, max_points: int, seed: int = 0, bad: bool = True) -> pa.Table:
    """A long table grouped by object with times in random order; with ``bad``, about 1 row in 1000 is bad (NaN
    value, non-positive error) and 1 in 1000 repeats a time."""
    rng = np.random.default_rng(seed)
    sizes = rng.integers(min_points, max_points, n_objects, endpoint=True)
    n = int(sizes.sum())
    obj = np.repeat(np.arange(n_objects), sizes)
    time_ = np.round(50000 + rng.uniform(0, 3000, n), 5)
    band = rng.integers(0, len(BANDS), n)
    repeat = np.flatnonzero(rng.random(n) < (1e-3 if bad else 0))
    repeat = repeat[(repeat > 0) & (obj[repeat] == obj[repeat - 1])]
    time_[repeat], band[repeat] = time_[repeat - 1], band[repeat - 1]
    value = 15 + rng.uniform(0.05, 1, n_objects)[obj] * np.sin(time_ / rng.uniform(0.3, 300, n_objects)[obj])
    value += rng.normal(0, 0.02, n)
    error = rng.uniform(0.005, 0.05, n)
    if bad:
        value[rng.random(n) < 1e-3] = np.nan
        error[rng.random(n) < 1e-3] = -1.0
    ids = np.char.add("obj", np.char.zfill(np.arange(n_objects).astype(str), 7))
    return pa.table({"object_id": pa.array(ids).take(obj), "time": time_,
                     "band": pa.array(BANDS).take(band), "value": np.round(value, 4),
                     "error": np.round(error, 4), "label": pa.array(CLASSES).take(obj % len(CLASSES))})


def ours(path: Path, out: Path) -> dict[str, tuple[float, float]]:
    """Wall and CPU seconds of each stage."""
    times, marks = {}, (time.perf_counter(), time.process_time())

    def stage(name):
        nonlocal marks
        now = (time.perf_counter(), time.process_time())
        times[name] = (now[0] - marks[0], now[1] - marks[1])
        marks = now

    cat = formats.read("long", path, bands=BANDS, columns={"label": "label"})
    stage("read")
    cleaned, qc = clean(cat, CleanConfig())
    stage("clean")
    write_store(cleaned, out, class_names=CLASSES, qc=qc)
    stage("write")
    return times


def naive(path: Path, out: Path, config: CleanConfig) -> None:
    """The obvious pandas version of the same cleaning: one DataFrame per object and band, in a Python loop."""
    df = pd.read_csv(path)
    times, values, errors, bands, ids, labels = [], [], [], [], [], []
    for oid, g in df.groupby("object_id", sort=False):
        label = CLASSES.index(g["label"].iloc[0])
        g = g[np.isfinite(g["time"]) & np.isfinite(g["value"]) & np.isfinite(g["error"]) & (g["error"] > 0)
              & g["band"].isin(BANDS)]
        parts = []
        for _, b in g.groupby("band", sort=False):
            b = b.sort_values("time", kind="stable")
            if b["time"].duplicated().any():  # inverse-variance mean of repeated times, kept in the first row
                w = 1 / b["error"] ** 2
                sums = pd.DataFrame({"w": w, "wv": w * b["value"]}).groupby(b["time"]).transform("sum")
                b = b.assign(value=sums["wv"] / sums["w"], error=1 / np.sqrt(sums["w"]))
                b = b[~b["time"].duplicated()]
            merged, cap = b, max(1, int(config.clip_max_fraction * len(b)))
            for _ in range(config.clip_iterations):
                if len(b) < config.clip_min_points:
                    break
                deviation = (b["value"] - b["value"].median()).abs()
                sigma = MAD_TO_SIGMA * deviation.median()
                bad = (deviation > config.clip_sigma * sigma) & (sigma > 0)
                if not bad.any():
                    break
                b = b[~bad]
                if len(merged) - len(b) > cap:  # too many deviant points to be outliers: signal, keep them all
                    b = merged
                    break
            if len(b) >= config.min_points_per_band:
                parts.append(b)
        g = pd.concat(parts).sort_index().sort_values("time", kind="stable") if parts else g.iloc[:0]
        if len(g) < config.min_points:
            continue
        times.append(g["time"].to_numpy())
        values.append(g["value"].to_numpy(np.float32))
        errors.append(g["error"].to_numpy(np.float32))
        bands.append(g["band"].map(BANDS.index).to_numpy(np.int8))
        ids.append(oid)
        labels.append(label)
    sizes = np.array([len(t) for t in times], dtype=np.int64)
    arrays = {"time": np.concatenate(times), "mag": np.concatenate(values), "mag_err": np.concatenate(errors),
              "band": np.concatenate(bands), "object_id": np.array(ids, dtype=np.dtypes.StringDType()),
              "row_size": sizes, "offset": np.cumsum(sizes) - sizes, "label": np.array(labels, dtype=np.int64)}
    group = zarr.open_group(out, mode="w")
    for name, data in arrays.items():
        group.create_array(name, data=data, chunks=(65536,), shards=(4_194_304,))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--objects", type=int, default=100_000)
    parser.add_argument("--min-points", type=int, default=20)
    parser.add_argument("--max-points", type=int, default=200)
    parser.add_argument("--naive-objects", type=int, default=5000)
    parser.add_argument("--repeats", type=int, default=3, help="runs of ours on each format; the least CPU time counts")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench_ingest_"))
    try:
        run(args, work)
    finally:
        shutil.rmtree(work)


def run(args, work: Path) -> None:
    table = synthetic_table(args.objects, args.min_points, args.max_points)
    n = table.num_rows
    pacsv.write_csv(table, work / "all.csv")
    pq.write_table(table, work / "all.parquet")
    small = table.slice(0, int(np.searchsorted(table.column("object_id").to_numpy(),
                                               f"obj{args.naive_objects:07d}")))
    pacsv.write_csv(small, work / "small.csv")
    print(f"{args.objects} objects, {n} observations, {os.cpu_count()} cores; naive on {args.naive_objects} "
          f"objects ({small.num_rows} observations)")

    for name in ("all.csv", "all.parquet"):
        runs = [ours(work / name, work / f"{name}.zarr") for _ in range(args.repeats)]
        stages = min(runs, key=lambda stages: sum(s[1] for s in stages.values()))
        wall, cpu = sum(s[0] for s in stages.values()), sum(s[1] for s in stages.values())
        detail = "  ".join(f"{k} {n / w / 1e6:.2f}M/s" for k, (w, _) in stages.items())
        print(f"ours {name:12s} {n / wall / 1e6:6.2f}M obs/s wall, {n / cpu / 1e6:5.2f}M obs/s per CPU-second"
              f"   ({detail})")

    start = time.perf_counter()
    stages = ours(work / "small.csv", work / "ours_small.zarr")
    mine = time.perf_counter() - start
    start = time.perf_counter()
    naive(work / "small.csv", work / "naive_small.zarr", CleanConfig())
    reference = time.perf_counter() - start
    got, want = LightCurveStore(work / "ours_small.zarr").load(), zarr.open_group(work / "naive_small.zarr", mode="r")
    same = (np.array_equal(got.row_size, want["row_size"][:]) and np.array_equal(got.time, want["time"][:])
            and np.array_equal(got.band, want["band"][:]) and np.array_equal(got.label, want["label"][:])
            and np.allclose(got.value, want["mag"][:], rtol=0, atol=1e-5))
    m = small.num_rows
    print(f"same file: ours {m / mine / 1e6:6.2f}M obs/s, naive pandas loop {m / reference / 1e6:6.3f}M obs/s, "
          f"ratio {reference / mine:6.1f}x, same arrays: {same}")


if __name__ == "__main__":
    main()
