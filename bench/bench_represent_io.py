"""Materialised or on the fly? Random training batches of images and DmDt maps read from the represent stage's
Zarr against computed from the in-memory light curves, in the same run.

    python bench/bench_represent_io.py [n_objects]
"""
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import yaml
import zarr

from astroflow.clean import clean
from astroflow.models.cnn import CNNConfig
from astroflow.models.rnn import RNNConfig
from astroflow.represent.materialize import build, dtdm_settings, materialize
from astroflow.sources.simulate import simulate_survey
from astroflow.store import LightCurveStore, write_store

ROOT = Path(__file__).resolve().parents[1]


def defaults() -> dict:
    schema = yaml.safe_load((ROOT / "workflow" / "schemas" / "config.schema.yaml").read_text())["properties"]
    section = schema["represent"]["properties"]
    params = {k: v["default"] for k, v in section.items() if "default" in v}
    for key in ("dmdt", "image"):
        params[key] = {k: v["default"] for k, v in section[key]["properties"].items()}
    return json.loads(json.dumps(params)) | dtdm_settings(CNNConfig(), RNNConfig())


def rate(fn, batches) -> float:
    fn(batches[0])  # warm up
    start = time.perf_counter()
    n = sum(len(fn(b)) for b in batches[1:])
    return n / (time.perf_counter() - start)


def main(n_objects: int = 2200, batch: int = 64, n_batches: int = 20) -> None:
    torch.set_num_threads(1)
    params = defaults()
    with tempfile.TemporaryDirectory() as tmp:
        cat, _ = clean(simulate_survey(max(1, n_objects // 11), seed=1, max_points=500))
        store_path = Path(tmp) / "lc.zarr"
        write_store(cat, store_path, class_names=sorted(cat.objects["label"].unique()))
        ragged = LightCurveStore(store_path).load()
        rng = np.random.default_rng(0)
        batches = [np.sort(rng.choice(len(ragged), batch, replace=False)) for _ in range(n_batches)]
        print(f"{len(ragged)} objects, {ragged.row_size.mean():.0f} points on average; batches of {batch}, 1 thread")
        for name in ("image_overlay", "dmdt"):
            out = Path(tmp) / f"{name}.zarr"
            t0 = time.perf_counter()
            materialize(store_path, name, {**params, "batch_size": 256}, out)
            t_mat = time.perf_counter() - t0
            array = zarr.open_group(out, mode="r")[name]
            read = rate(lambda idx, array=array: array.oindex[idx], batches)
            fly = rate(lambda idx, name=name: build(name, ragged.subset(idx), {**params, "magnitudes": True}), batches)
            size = sum(f.stat().st_size for f in out.rglob("*") if f.is_file()) / len(ragged)
            print(f"{name:14s} materialise {len(ragged) / t_mat:8.0f}/s ({size / 1024:.1f} KiB per object on disk); "
                  f"training batches: read {read:8.0f}/s, on the fly {fly:8.0f}/s, read/on-the-fly {read / fly:.2f}")


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:2]))
