"""The period probe: a linear read-out of log period from an encoder's embeddings, scored on the test objects."""
import json

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from astroflow.catalogue import Catalogue
from astroflow.errors import InputError
from astroflow.features import columns
from astroflow.store import write_store
from astroflow.train.probe import period_probe

N = 60


def project(tmp_path, period, signal, seed=0):
    """A store of N objects with ``period`` (or none), its split, features table and embeddings of two layers: layer
    0 noise, layer 1 ``signal`` (per object) plus noise."""
    rng = np.random.default_rng(seed)
    ids = [f"o{i:02d}" for i in range(N)]
    obs = pd.DataFrame({"object_id": np.repeat(ids, 5), "time": np.tile(np.arange(5.0), N), "band": "g",
                        "value": rng.normal(18, 1, 5 * N), "error": 0.1})
    objects = pd.DataFrame({"object_id": ids, "label": pd.Series(rng.choice(["A", "B"], N), dtype="string")})
    if period is not None:
        objects["period"] = period
    qc = pd.DataFrame({"object_id": ids, "kept": True, "n_dropped": 0, "reason": ""})
    write_store(Catalogue(obs=obs, objects=objects, survey="sim", bands=["g"], sources={}), tmp_path / "s.zarr", qc=qc)
    pd.DataFrame({"object_id": ids, "label": 0, "role": np.where(np.arange(N) % 3 == 0, "test", "pool")}).to_parquet(
        tmp_path / "split.parquet")
    features = pd.DataFrame(np.nan, index=range(N), columns=columns(["g"]))
    features["periodogram_period_0_g"] = 10 ** rng.uniform(-1, 1, N)
    features["periodogram_period_s_to_n_0_g"] = 5.0
    features.insert(0, "object_id", ids)
    features.to_parquet(tmp_path / "features.parquet")
    emb = rng.normal(size=(N, 2, 4))
    emb[:, 1, 0] += signal(features)
    xr.Dataset({"embedding": (("object", "layer", "feature"), emb.astype(np.float32)),
                "object_id": ("object", np.array(ids, dtype=object)), "label": ("object", np.zeros(N, int))},
               attrs={"model": "m"}).to_zarr(tmp_path / "e.zarr")
    return [tmp_path / n for n in ("e.zarr", "s.zarr", "split.parquet", "features.parquet")]


def probe(tmp_path, *args):
    period_probe(*project(tmp_path, *args), tmp_path / "m.json", tmp_path / "t.parquet")
    return json.loads((tmp_path / "m.json").read_text()), pd.read_parquet(tmp_path / "t.parquet")


def test_a_layer_holding_the_period_is_found_and_noise_is_not(tmp_path):
    period = 10 ** np.linspace(-1, 2, N)
    metrics, table = probe(tmp_path, period, lambda f: 10 * np.log10(period))
    assert metrics["target"] == "period"
    assert metrics["layers"]["layer 1"]["r2"] > 0.95 and metrics["layers"]["layer 0"]["r2"] < 0.3
    assert metrics["best_layer"] in ("layer 1", "all layers")
    assert len(table) == N // 3 and np.allclose(table["log_period"], np.log10(period[::3]))
    assert "periodogram" in metrics and metrics["periodogram"]["n_objects"] == N // 3


def test_a_store_without_periods_is_probed_for_the_periodogram_period(tmp_path):
    metrics, _ = probe(tmp_path, None, lambda f: 10 * np.log10(f["periodogram_period_0_g"].to_numpy()))
    assert metrics["target"] == "periodogram period" and "periodogram" not in metrics
    assert metrics["layers"]["layer 1"]["r2"] > 0.95


def test_too_few_objects_with_a_period_anywhere_is_a_clear_error(tmp_path):
    files = project(tmp_path, np.full(N, np.nan), lambda f: 0.0)
    pd.DataFrame({"object_id": pd.read_parquet(files[3])["object_id"], "periodogram_period_0_g": np.nan,
                  "periodogram_period_s_to_n_0_g": np.nan}).to_parquet(files[3])
    with pytest.raises(InputError, match="fewer than 5 pool or test objects with a period"):
        period_probe(*files, tmp_path / "m.json", tmp_path / "t.parquet")
