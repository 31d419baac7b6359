"""Survey scale: peak memory and throughput of pretraining and prediction from a store read in bounded memory
(train/streaming.py) against the in-memory path, each run in a fresh process so its peak RSS is its own.

    python bench/bench_scale.py pretrain STORE [SMALL_STORE] [--steps 200] [--memory-mb 512] [--threads 1]
    python bench/bench_scale.py predict STORE [SMALL_STORE] [--objects 0] [--memory-mb 512] [--threads 1]

pretrain: astromer-tiny masked-reconstruction steps (batch 64) through astroflow's Trainer, windows/s of the
training loop and peak RSS, (a) from memory (the store loaded whole, as before streaming), (b) streamed with a
buffer of --memory-mb, on STORE, and (c) streamed on SMALL_STORE when given: memory flat in the store's size means
(b) and (c) peak alike. predict: ``predict_store`` of an (untrained) default classifier (astromer-tiny, layer-
weighted head) on STORE (its first --objects objects when set, copied to a temporary store) and SMALL_STORE, light
curves/s per core (CPU time) and peak RSS. Ratios are printed in the same run.
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
    validation = make(store.load(index[:256]), np.arange(256))
    task = MaskedReconstruction(train, validation, 64)
    setup = time.perf_counter() - start
    torch.manual_seed(0)
    config = TrainConfig(max_steps=steps, batch_size=64, eval_every=10**9, checkpoint_every=10**9)
    with tempfile.TemporaryDirectory() as tmp:
        trainer = Trainer(config, tmp)
        start = time.perf_counter()
        trainer.fit(Reconstructor(models.build("astromer-tiny")), task)
        took = time.perf_counter() - start
    return {"objects": store.n_objects, "obs": store.n_obs, "setup_s": setup, "windows_per_s": steps * 64 / took,
            "peak_rss_mb": peak_rss_mb()}


def child_predict(store_path: str, memory_mb: int, threads: int, model: str) -> dict:
    import torch

    from astroflow.store import LightCurveStore
    from astroflow.train.predict import predict_store
    from astroflow.train.streaming import StreamConfig

    torch.set_num_threads(threads)
    n = LightCurveStore(store_path).n_objects
    wall, cpu = time.perf_counter(), time.process_time()
    with tempfile.TemporaryDirectory() as tmp:
        predict_store(model, store_path, f"{tmp}/p.parquet", threads=threads, stream=StreamConfig(memory_mb))
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return {"objects": n, "per_s": n / wall, "per_cpu_s": n / cpu, "peak_rss_mb": peak_rss_mb()}


def default_classifier(store_path: str, out: str) -> None:
    import torch

    from astroflow import models
    from astroflow.store import LightCurveStore
    from astroflow.train import artifacts

    store = LightCurveStore(store_path)
    card = artifacts.new_card("astromer-tiny", store)
    torch.manual_seed(0)
    encoder = models.build("astromer-tiny", **card.overrides)
    names = list(store.class_names) or ["unknown"]
    card = dataclasses.replace(card, kind="classifier", class_names=names, head="layers", head_hidden=[1024, 512, 256])
    artifacts.save_model(out, artifacts.build_classifier(encoder, card), card)


def head(store_path: str, n: int, out: str) -> str:
    """The first ``n`` objects of a store as a store of their own (the store itself when n is 0 or all)."""
    import pandas as pd

    from astroflow.catalogue import Catalogue
    from astroflow.store import LightCurveStore, write_store

    store = LightCurveStore(store_path)
    if not n or n >= store.n_objects:
        return store_path
    ragged = store.load_range(0, n)
    obs = pd.DataFrame({"object_id": np.repeat(ragged.object_id, ragged.row_size), "time": ragged.time,
                        "band": np.asarray(store.bands, dtype=object)[ragged.band], "value": ragged.value,
                        "error": ragged.error})
    labels = np.asarray([*store.class_names, None], dtype=object)[ragged.label]
    cat = Catalogue(obs=obs, objects=pd.DataFrame({"object_id": ragged.object_id, "label": labels}),
                    quantity=store.quantity, unit=store.units, survey="head", bands=list(store.bands))
    write_store(cat, out, class_names=list(store.class_names))
    return out


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
            result = child_predict(rest[0], int(rest[1]), int(rest[2]), rest[3])
        print(json.dumps(result))
        return
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("what", choices=["pretrain", "predict"])
    parser.add_argument("store")
    parser.add_argument("small", nargs="?")
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--objects", type=int, default=0, help="predict: the first this many objects of STORE")
    parser.add_argument("--memory-mb", type=int, default=512)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    common = [str(args.memory_mb), str(args.threads)]
    if args.what == "pretrain":
        rows = {"in memory": run("pretrain", args.store, "memory", str(args.steps), *common),
                f"streamed ({args.memory_mb} MB)": run("pretrain", args.store, "stream", str(args.steps), *common)}
        if args.small:
            rows["streamed, small store"] = run("pretrain", args.small, "stream", str(args.steps), *common)
        for name, r in rows.items():
            print(f"{name:24s} {r['objects']:9d} objects {r['obs']:11d} obs  setup {r['setup_s']:6.1f} s  "
                  f"{r['windows_per_s']:8.0f} windows/s  peak RSS {r['peak_rss_mb']:7.0f} MB")
        memory, streamed = rows["in memory"], rows[f"streamed ({args.memory_mb} MB)"]
        print(f"streamed / in memory: throughput {streamed['windows_per_s'] / memory['windows_per_s']:.2f}x, "
              f"peak RSS {streamed['peak_rss_mb'] / memory['peak_rss_mb']:.2f}x")
        if args.small:
            small = rows["streamed, small store"]
            print(f"streamed peak RSS, large / small store ({memory['objects'] / small['objects']:.0f}x the objects):"
                  f" {streamed['peak_rss_mb'] / small['peak_rss_mb']:.2f}x")
        return
    with tempfile.TemporaryDirectory(dir=Path(args.store).parent) as tmp:
        model = f"{tmp}/model.pt"
        default_classifier(args.store, model)
        large = head(args.store, args.objects, f"{tmp}/head.zarr")
        rows = {"store": run("predict", large, *common, model)}
        if args.small:
            rows["small store"] = run("predict", args.small, *common, model)
    for name, r in rows.items():
        print(f"{name:12s} {r['objects']:9d} objects  {r['per_s']:8.0f} light curves/s  "
              f"{r['per_cpu_s']:8.0f} per CPU second  peak RSS {r['peak_rss_mb']:7.0f} MB")
    if args.small:
        a, b = rows["store"], rows["small store"]
        print(f"peak RSS, store / small store ({a['objects'] / b['objects']:.0f}x the objects): "
              f"{a['peak_rss_mb'] / b['peak_rss_mb']:.2f}x; per-CPU-second rate {a['per_cpu_s'] / b['per_cpu_s']:.2f}x")


if __name__ == "__main__":
    main()
