"""Multiband training options: synchronous versus asynchronous band sampling, joint versus independent pretraining."""
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from snakemake.utils import validate

from astroflow import models
from astroflow.clean import clean
from astroflow.ragged import Ragged, band_objects
from astroflow.sources.simulate import CLASSES, simulate_survey
from astroflow.store import write_store
from astroflow.train import artifacts
from astroflow.train.data import sample_bands, synchronous_epochs
from astroflow.train.evaluate import evaluate
from astroflow.train.finetune import FinetuneSettings, finetune
from astroflow.train.pretrain import PretrainSettings, pretrain
from astroflow.train.split import readable, split
from test_train import one_thread  # noqa: F401 (autouse fixture: tiny models on one thread)

ROOT = Path(__file__).resolve().parents[1]
STEPS = {"max_steps": 4, "batch_size": 8, "warmup_steps": 1, "eval_every": 2, "checkpoint_every": 2}


def ragged(times, bands, sizes):
    times = np.asarray(times, dtype=np.float64)
    return Ragged(time=times, value=np.arange(len(times), dtype=np.float32), error=np.ones(len(times), np.float32),
                  band=np.asarray(bands, dtype=np.int8), row_size=sizes, bands=["B", "R"])


def test_synchronous_epochs_pair_each_first_band_point_with_the_nearest_other_band_point():
    # Object 0: B at 0, 5, 10; R at 0.2, 4.0, 10.4 -> epochs at 0 (R 0.2) and 10 (R 10.4); B at 5 has no R in 0.5.
    # Object 1: only R: no epoch at all.
    r = ragged([0.0, 0.2, 4.0, 5.0, 10.0, 10.4, 3.0, 4.0], [0, 1, 1, 0, 0, 1, 1, 1], [6, 2])
    out = synchronous_epochs(r, tolerance=0.5)
    assert out.row_size.tolist() == [4, 0]
    assert out.time.tolist() == [0.0, 0.0, 10.0, 10.0]
    assert out.band.tolist() == [0, 1, 0, 1]
    assert out.value.tolist() == [0, 1, 4, 5]
    assert synchronous_epochs(r, tolerance=1.0).row_size.tolist() == [6, 0]  # B at 5 now meets R at 4


def test_objects_never_share_an_epoch():
    # B of object 0 at its last time, R of object 1 at the same time: different objects, no epoch.
    r = ragged([7.0, 7.0], [0, 1], [1, 1])
    assert synchronous_epochs(r, tolerance=1.0).row_size.tolist() == [0, 0]


@settings(max_examples=30, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 2), st.floats(0, 30), st.integers(0, 1)), min_size=1, max_size=40),
       st.floats(0, 3))
def test_every_synchronous_epoch_holds_every_band_within_the_tolerance(points, tolerance):
    points = sorted(points)
    obj, times, bands = (np.array(p) for p in zip(*points))
    r = ragged(times, bands, np.bincount(obj, minlength=3))
    out = synchronous_epochs(r, tolerance)
    assert (out.band.reshape(-1, 2) == [0, 1]).all()
    source = np.repeat(np.arange(3), r.row_size)
    kept_obj = np.repeat(np.arange(3), out.row_size)
    for t, v, o in zip(out.time, out.value.astype(int), kept_obj):
        assert source[v] == o and abs(r.time[v] - t) <= tolerance  # a point of the same object, near the epoch
    assert out.row_size.sum() == 2 * sum(
        any(source[j] == source[i] and bands[j] == 1 and abs(times[j] - times[i]) <= tolerance
            for j in range(len(times))) for i in np.flatnonzero(bands == 0))


def test_band_sampling_applies_to_multiband_models_only():
    r = ragged([0.0, 3.0], [0, 1], [2])
    assert sample_bands(r, "asynchronous") is r
    assert sample_bands(r, "synchronous", 0.5, band=0) is r
    assert sample_bands(r, "synchronous", 0.5).row_size.tolist() == [0]


def test_band_objects_split_every_object_into_its_bands():
    r = ragged([0.0, 1.0, 2.0, 5.0], [1, 0, 1, 1], [3, 1])
    out = band_objects(r)
    assert out.row_size.tolist() == [1, 2, 0, 1]
    assert out.time.tolist() == [1.0, 0.0, 2.0, 5.0]
    assert readable(out, np.arange(4), None).tolist() == [True, True, False, True]
    assert readable(r, np.arange(2), 0).tolist() == [True, False]


@pytest.fixture(scope="module")
def survey(tmp_path_factory):
    """A tiny simulated survey observed in both bands at every visit, a validated config and its test split."""
    root = tmp_path_factory.mktemp("mb")
    cat = simulate_survey(4, seed=5, min_points=20, max_points=60, synchronous=True)
    write_store(clean(cat)[0], root / "s.zarr", class_names=list(CLASSES))
    config = {"dataset": "sim", "results": str(root), "datasets": {"sim": {"simulate": {"n_per_class": 4}}},
              "train": {"pretrain": dict(STEPS), "finetune": {**STEPS, "head_hidden": [8]},
                        "model_overrides": {"multiband-perband-tiny": {"shared": False}}}}
    validate(config, str(ROOT / "workflow" / "schemas" / "config.schema.yaml"))
    split(root / "s.zarr", root / "split.parquet", test_fraction=0.2, split_seed=0)
    return root, config


def pretrained(survey, name, **sampling):
    root, _config = survey
    out = root / name
    pretrain(root / "s.zarr", root / "split.parquet", out.with_suffix(".pt"), out.with_suffix(".csv"),
             root / f"work_{name}", model="multiband-perband-tiny", seed=0, settings=PretrainSettings(**STEPS),
             split_seed=0, validation_fraction=0.2, overrides={"shared": False}, **sampling)
    return sampling, out


def test_defaults_are_asynchronous_and_joint(survey):
    train = survey[1]["train"]
    assert (train["band_sampling"], train["sync_tolerance"], train["multiband_pretraining"]) == (
        "asynchronous", 0.5, "joint")


def test_independent_pretraining_trains_band_encoders_alone(survey):
    root, _ = survey
    _, out = pretrained(survey, "independent", pretraining="independent")
    encoder, meta = artifacts.load_model(out.with_suffix(".pt"))
    assert meta.pretraining == "independent"
    torch.manual_seed(0)
    fresh = models.build("multiband-perband-tiny", **meta.overrides)
    for name, value in fresh.state_dict().items():
        changed = not torch.equal(value, encoder.state_dict()[name])
        if name.startswith(("fusion.", "band.")):
            assert not changed, name  # left to fine-tuning
        elif name.endswith("value.weight"):
            assert changed, name
    metrics = pd.read_csv(out.with_suffix(".csv"))
    assert metrics.groupby("encoder")["step"].max().to_dict() == {0: 4, 1: 4}
    assert not (root / "work_independent").exists()


def test_joint_pretraining_trains_the_fusion_too(survey):
    _, out = pretrained(survey, "joint")
    encoder, meta = artifacts.load_model(out.with_suffix(".pt"))
    torch.manual_seed(0)
    fresh = models.build("multiband-perband-tiny", **meta.overrides)
    assert meta.pretraining == "joint"
    assert not torch.equal(fresh.state_dict()["fusion.0.attn.qkv.weight"], encoder.state_dict()["fusion.0.attn.qkv.weight"])


def test_synchronous_sampling_runs_through_fine_tuning_and_evaluation(survey):
    root, _ = survey
    sampling, out = pretrained(survey, "sync", band_sampling="synchronous", sync_tolerance=0.1)
    _, meta = artifacts.load_model(out.with_suffix(".pt"))
    assert (meta.band_sampling, meta.sync_tolerance) == ("synchronous", 0.1)
    ft = root / "ft_sync"
    ft.mkdir()
    finetune(root / "s.zarr", root / "split.parquet", out.with_suffix(".pt"), ft / "model.pt", ft / "split.parquet",
             ft / "metrics.csv", ft / "work", model="multiband-perband-tiny", init="pretrained", n_per_class="2",
             fold=0, seed=0, settings=FinetuneSettings(**STEPS, head_hidden=[8]), split_seed=0,
             validation_fraction=0.2, **sampling)
    evaluate(ft / "model.pt", root / "s.zarr", root / "split.parquet", ft / "pred.parquet", ft / "m.json")
    _, meta = artifacts.load_model(ft / "model.pt")
    assert meta.band_sampling == "synchronous"
    probs = pd.read_parquet(ft / "pred.parquet").filter(like="p_").to_numpy()
    assert np.allclose(probs.sum(axis=1), 1, atol=1e-5)
