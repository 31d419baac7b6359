"""Survey scale: peak memory and throughput of pretraining and prediction from a store read in bounded memory
(train/streaming.py) against the in-memory path, each run in a fresh process so its peak RSS is its own.

    python bench/bench_scale.py pretrain STORE [SMALL_STORE] [--steps 200] [--memory-mb 512] [--threads 1]
        [--memory-on-small]
    python bench/bench_scale.py predict STORE [--features TABLE] [--objects 0] [--extract-objects 500]
        [--memory-mb 512] [--threads 1]

pretrain: astromer-tiny (without its period fold) masked-reconstruction steps (batch 64) through astroflow's
Trainer, windows/s of the training loop (and per CPU-second) and peak RSS, (a) from memory (the store loaded
whole, as before streaming), (b) streamed with a buffer of --memory-mb, on STORE, and (c) streamed on SMALL_STORE
when given: memory flat in the store's size means (b) and (c) peak alike. Loading the store (a) and the buffer's
first fill (b, c) are setup, not training time. With --memory-on-small, (a) loads SMALL_STORE instead, for a STORE
that should not be loaded whole (the one-million-object corpus).

predict: ``predict_store`` of an (untrained) default classifier (astromer-tiny folding at
the periodogram's period, layer-weighted head reading the periodogram features) on STORE (its first --objects
objects when set, copied to a temporary store), light curves/s per core (CPU time) and peak RSS: reading the
features rule's table TABLE, (a) with every window padded to the model's length (the reference: inference before
windows were cut to their points), (b) as predict runs, (c) on the store's first 1/16 (memory flat in its size),
and (d) on its first --extract-objects objects with no table, so that the job runs the periodogram itself.
Ratios, and how far (a) and (b)'s probabilities differ, are printed in the same run.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

# Pretraining runs the tiny Astromer without its period fold: folding needs the periodogram's period of every object
# (the features rule, about 60 light curves per CPU-second: hours for the corpus), and the data path is the same.
NO_PERIOD = {"phase_harmonics": 0, "features": "none"}


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child_pretrain(store_path: str, mode: str, steps: int, memory_mb: int, threads: int) -> dict:
    import torch

    from astroflow import models
    from astroflow.store import LightCurveStore, StoreBlocks
    from astroflow.train.data import Windows
    from astroflow.train.streaming import Streamed
    from astroflow.train.tasks import MaskedReconstruction, Reconstructor
    from astroflow.train.trainer import TrainConfig, Trainer

    torch.set_num_threads(threads)
    start = time.perf_counter()
    store = LightCurveStore(store_path)
    window = models.model_config("astromer-tiny").window
    index = np.flatnonzero(store.objects["row_size"].to_numpy() > 0)
    make = lambda ragged, idx: Windows(ragged, idx, window, 0)
    if mode == "memory":
        train = make(store.load(), index)
    else:
        train = Streamed(StoreBlocks(store_path, memory_mb), index, make, 64, seed=0)
        train.at(0)  # the first fill of the buffer is setup, as loading the store is for the in-memory run
    validation = make(store.load(index[:256]), np.arange(256))
    task = MaskedReconstruction(train, validation, 64)
    setup = time.perf_counter() - start
    torch.manual_seed(0)
    config = TrainConfig(max_steps=steps, batch_size=64, eval_every=10**9, checkpoint_every=10**9)
    with tempfile.TemporaryDirectory() as tmp:
        trainer = Trainer(config, tmp)
        start, cpu = time.perf_counter(), time.process_time()
        trainer.fit(Reconstructor(models.build("astromer-tiny", **NO_PERIOD)), task)
        took, cpu = time.perf_counter() - start, time.process_time() - cpu
    return {"objects": store.n_objects, "obs": store.n_obs, "setup_s": setup, "windows_per_s": steps * 64 / took,
            "windows_per_cpu_s": steps * 64 / cpu, "peak_rss_mb": peak_rss_mb()}


def child_predict(store_path: str, memory_mb: int, threads: int, model: str, features: str, step: int,
                  out: str) -> dict:
    import torch

    from astroflow.store import LightCurveStore
    from astroflow.train import inference
    from astroflow.train.predict import predict_store
    from astroflow.train.streaming import StreamConfig

    torch.set_num_threads(threads)
    inference.STEP = step
    n = LightCurveStore(store_path).n_objects
    wall, cpu = time.perf_counter(), time.process_time()
    predict_store(model, store_path, out, threads=threads, stream=StreamConfig(memory_mb),
                  features_path=None if features == "-" else features)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return {"objects": n, "per_s": n / wall, "per_cpu_s": n / cpu, "peak_rss_mb": peak_rss_mb()}


def default_classifier(store_path: str, features: str, out: str) -> None:
    """An untrained classifier as finetune makes it by default: the tiny Astromer folding at the periodogram's
    period, its layer-weighted head (train.finetune's default widths) also reading the periodogram features,
    standardised over the store's first 1,000 objects."""
    import torch

    from astroflow import models
    from astroflow.store import LightCurveStore
    from astroflow.train import artifacts
    from astroflow.train.finetune import FinetuneSettings
    from astroflow.train.tabular import feature_table, with_feature_norm

    store = LightCurveStore(store_path)
    card = artifacts.new_card("astromer-tiny", store)
    torch.manual_seed(0)
    encoder = models.build("astromer-tiny", **card.overrides)
    settings = FinetuneSettings()
    card = dataclasses.replace(card, kind="classifier", class_names=list(store.class_names) or ["unknown"],
                               head=settings.head, head_hidden=list(settings.head_hidden))
    card = with_feature_norm(card, feature_table(card, features, store), np.arange(min(store.n_objects, 1000)))
    artifacts.save_model(out, artifacts.build_classifier(encoder, card), card)


def head(store_path: str, features: str, n: int, out: str) -> tuple[str, str]:
    """The first ``n`` objects of a store as a store of their own, and the first ``n`` rows of its feature table
    (the store and table themselves when n is 0 or all)."""
    import pyarrow.parquet as pq

    from astroflow.catalogue import Catalogue
    from astroflow.store import LightCurveStore, write_store

    store = LightCurveStore(store_path)
    if not n or n >= store.n_objects:
        return store_path, features
    ragged = store.load_range(0, n)
    obs = pd.DataFrame({"object_id": np.repeat(ragged.object_id, ragged.row_size), "time": ragged.time,
                        "band": np.asarray(store.bands, dtype=object)[ragged.band], "value": ragged.value,
                        "error": ragged.error})
    labels = np.asarray([*store.class_names, None], dtype=object)[ragged.label]
    cat = Catalogue(obs=obs, objects=pd.DataFrame({"object_id": ragged.object_id, "label": labels}),
                    quantity=store.quantity, unit=store.units, survey="head", bands=list(store.bands))
    write_store(cat, f"{out}.zarr", class_names=list(store.class_names))
    pq.write_table(pq.read_table(features).slice(0, n), f"{out}.features.parquet")  # keeps the schema metadata
    return f"{out}.zarr", f"{out}.features.parquet"


def run(*args: str) -> dict:
    out = subprocess.run([sys.executable, __file__, "_child", *args], capture_output=True, text=True, check=False)
    if out.returncode:
        raise SystemExit(out.stderr[-3000:])
    result = json.loads(out.stdout.strip().splitlines()[-1])
    print(" ".join(args[:2]), json.dumps(result), flush=True)  # each run as it ends: long runs show progress
    return result


def main() -> None:
    if sys.argv[1:2] == ["_child"]:
        kind, *rest = sys.argv[2:]
        if kind == "pretrain":
            result = child_pretrain(rest[0], rest[1], int(rest[2]), int(rest[3]), int(rest[4]))
        else:
            result = child_predict(rest[0], int(rest[1]), int(rest[2]), *rest[3:5], int(rest[5]), rest[6])
        print(json.dumps(result))
        return
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("what", choices=["pretrain", "predict"])
    parser.add_argument("store")
    parser.add_argument("small", nargs="?")
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--objects", type=int, default=0, help="predict: the first this many objects of STORE")
    parser.add_argument("--features", help="predict: the features rule's table of STORE (default: written now)")
    parser.add_argument("--extract-objects", type=int, default=500,
                        help="predict: objects of the run that extracts the features itself")
    parser.add_argument("--memory-mb", type=int, default=512)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--memory-on-small", action="store_true",
                        help="pretrain: the in-memory reference loads SMALL, not STORE (a STORE too large to load)")
    args = parser.parse_args()
    if args.memory_on_small and not args.small:
        parser.error("--memory-on-small needs SMALL")
    common = [str(args.memory_mb), str(args.threads)]
    if args.what == "pretrain":
        reference = args.small if args.memory_on_small else args.store
        rows = {"in memory": run("pretrain", reference, "memory", str(args.steps), *common),
                f"streamed ({args.memory_mb} MB)": run("pretrain", args.store, "stream", str(args.steps), *common)}
        if args.small:
            rows["streamed, small store"] = run("pretrain", args.small, "stream", str(args.steps), *common)
        for name, r in rows.items():
            print(f"{name:24s} {r['objects']:9d} objects {r['obs']:11d} obs  setup {r['setup_s']:6.1f} s  "
                  f"{r['windows_per_s']:6.0f} windows/s ({r['windows_per_cpu_s']:4.0f} per CPU-second)  "
                  f"peak RSS {r['peak_rss_mb']:6.0f} MB")
        memory, streamed = rows["in memory"], rows[f"streamed ({args.memory_mb} MB)"]
        print(f"streamed / in memory: throughput {streamed['windows_per_s'] / memory['windows_per_s']:.2f}x "
              f"({streamed['windows_per_cpu_s'] / memory['windows_per_cpu_s']:.2f}x per CPU-second: on a shared "
              f"machine the steadier figure), peak RSS {streamed['peak_rss_mb'] / memory['peak_rss_mb']:.2f}x")
        if args.small:
            small = rows["streamed, small store"]
            print(f"streamed peak RSS, large / small store ({streamed['objects'] / small['objects']:.0f}x the objects):"
                  f" {streamed['peak_rss_mb'] / small['peak_rss_mb']:.2f}x")
        return
    from astroflow.store import LightCurveStore

    with tempfile.TemporaryDirectory(dir=Path(args.store).parent) as tmp:
        features = args.features
        if not features:
            from astroflow.features import write_features

            print("writing the store's features table (the periodogram: slow; give one with --features)", flush=True)
            features = f"{tmp}/features.parquet"
            write_features(args.store, features, threads=args.threads)
        model = f"{tmp}/model.pt"
        default_classifier(args.store, features, model)
        store, features = head(args.store, features, args.objects, f"{tmp}/head")
        n = LightCurveStore(store).n_objects
        small = head(store, features, max(n // 16, 1), f"{tmp}/small")
        extract = head(store, features, args.extract_objects, f"{tmp}/extract")
        runs = {"padded windows (before)": (store, features, 10**6), "cut windows": (store, features, 8),
                "cut windows, 1/16 store": (*small, 8), "no table: periodogram": (extract[0], "-", 8)}
        rows = {}
        for name, (path, table, step) in runs.items():
            rows[name] = run("predict", path, *common, model, table, str(step), f"{tmp}/{len(rows)}.parquet")
        probs = [pd.read_parquet(f"{tmp}/{i}.parquet").filter(like="p_").to_numpy() for i in range(2)]
    for name, r in rows.items():
        print(f"{name:24s} {r['objects']:9d} objects  {r['per_s']:8.0f} light curves/s  "
              f"{r['per_cpu_s']:8.0f} per CPU second  peak RSS {r['peak_rss_mb']:7.0f} MB")
    before, cut, small, periodogram = rows.values()
    print(f"cut / padded windows: {cut['per_cpu_s'] / before['per_cpu_s']:.2f}x light curves per CPU second, "
          f"probabilities equal to {np.abs(probs[0] - probs[1]).max():.1e}")
    print(f"peak RSS, store / 1/16 store: {cut['peak_rss_mb'] / small['peak_rss_mb']:.2f}x; features extracted "
          f"in the job (no table) / read: {periodogram['per_cpu_s'] / cut['per_cpu_s']:.3f}x")


if __name__ == "__main__":
    main()
