"""The workflow end to end on config/ci.yaml, as a user runs it (a Snakemake subprocess)."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import xarray as xr

ROOT = Path(__file__).resolve().parents[1]
SNAKEMAKE = Path(sys.executable).parent / "snakemake"


def snakemake(workdir: Path, *args: str) -> subprocess.CompletedProcess:
    cmd = [str(SNAKEMAKE), "-s", str(ROOT / "Snakefile"), "--configfile", str(ROOT / "config" / "ci.yaml"),
           "--cores", "2", *args]
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    return subprocess.run(cmd, cwd=workdir, capture_output=True, text=True, env=env, timeout=1200, check=False)


@pytest.fixture(scope="module")
def ci_run(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("wf")
    proc = snakemake(workdir)
    assert proc.returncode == 0, proc.stderr[-5000:]
    return workdir


@pytest.mark.workflow
def test_store_opens_with_xarray(ci_run):
    ds = xr.open_zarr(ci_run / "results" / "ci" / "lightcurves.zarr")
    for var in ("time", "mag", "mag_err", "band"):
        assert ds[var].dims == ("obs",)
    for var in ("object_id", "row_size", "label"):
        assert ds[var].dims == ("object",)
    assert int(ds.row_size.sum()) == ds.sizes["obs"]
    assert ds.time.dtype == "float64" and ds.mag.dtype == "float32"
    assert ds.attrs["bands"] == ["B", "R"]
    assert len(ds.attrs["class_names"]) == 11
    prov = json.loads(ds.attrs["provenance"])  # a JSON string keeps the attributes netCDF-compatible
    assert prov["config_hash"] and prov["code_version"] and prov["inputs"]


@pytest.mark.workflow
def test_qc_accounts_for_every_object(ci_run):
    qc = pd.read_parquet(ci_run / "results" / "ci" / "qc.parquet")
    summary = json.loads((ci_run / "results" / "ci" / "ingest_summary.json").read_text())
    assert len(qc) == 11 * 8 == summary["objects_in"]
    assert summary["objects_kept"] == int(qc["kept"].sum())
    assert (qc.loc[~qc["kept"], "reason"] != "").all()


@pytest.mark.workflow
def test_training_stages_evaluate_pretrained_and_scratch(ci_run):
    results = ci_run / "results" / "ci"
    assert (results / "pretrain" / "astromer-tiny" / "s0" / "model.pt").is_file()
    for init in ("pretrained", "scratch"):
        out = results / "evaluate" / "astromer-tiny" / init / "n4" / "f0" / "s0"
        metrics = json.loads((out / "metrics.json").read_text())
        predictions = pd.read_parquet(out / "predictions.parquet")
        assert metrics["n_objects"] == len(predictions) > 0 and 0 <= metrics["macro_f1"] <= 1
        assert (results / "finetune" / "astromer-tiny" / init / "n4" / "f0" / "s0" / "split.parquet").is_file()


@pytest.mark.workflow
def test_comparison_table_lists_every_model(ci_run):
    table = pd.read_csv(ci_run / "results" / "ci" / "report" / "comparison.csv")
    expected = {("astromer-tiny", "pretrained"), ("astromer-tiny", "scratch"), ("rnn", "scratch"), ("cnn", "scratch"),
                ("vit-micro", "scratch"), ("swinv2-micro-grid", "scratch"), ("forest", "scratch")}
    assert set(zip(table["model"], table["init"])) == expected
    assert table["runs"].eq(1).all() and table["macro_f1_mean"].between(0, 1).all()
    forest = ci_run / "results" / "ci" / "evaluate" / "forest" / "scratch" / "n4" / "f0" / "s0"
    rnn = ci_run / "results" / "ci" / "evaluate" / "rnn" / "scratch" / "n4" / "f0" / "s0"
    assert (pd.read_parquet(forest / "predictions.parquet").columns == pd.read_parquet(
        rnn / "predictions.parquet").columns).all()
    assert "| forest | scratch | 4 | 1 |" in (ci_run / "results" / "ci" / "report" / "comparison.md").read_text()


@pytest.mark.workflow
def test_rerun_does_nothing(ci_run):
    proc = snakemake(ci_run, "-n")
    assert proc.returncode == 0
    assert "Nothing to be done" in proc.stdout + proc.stderr


def test_bad_config_names_the_key(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("datasets:\n  ci:\n    shards: 0\n")
    proc = snakemake(tmp_path, "-n", "--configfile", str(bad))
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert "['datasets']['ci']['shards']" in out and "minimum" in out


def test_image_weights_for_a_model_that_reads_no_images_is_refused(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("train:\n  image_weights: {rnn: /weights.safetensors}\n")
    proc = snakemake(tmp_path, "-n", "--configfile", str(ROOT / "config" / "ci.yaml"), str(bad))
    assert proc.returncode != 0 and "'rnn' is not an image model" in proc.stdout + proc.stderr


def test_image_weights_file_is_an_input_of_the_pretrained_run(tmp_path):
    weights = tmp_path / "w.safetensors"
    weights.write_bytes(b"")
    extra = tmp_path / "extra.yaml"
    extra.write_text(f"train:\n  models: [vit-micro]\n  image_weights: {{vit-micro: {weights}}}\n")
    proc = snakemake(tmp_path, "-n", "--configfile", str(ROOT / "config" / "ci.yaml"), str(extra))
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "evaluate/vit-micro/pretrained/n4/f0/s0/metrics.json" in proc.stdout and str(weights) in proc.stdout


def test_slurm_profile_dry_run(tmp_path):
    proc = snakemake(tmp_path, "-n", "--workflow-profile", str(ROOT / "profiles" / "slurm"))
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "ingest" in proc.stdout


@pytest.mark.realdata
@pytest.mark.workflow
def test_ztf_bts_config_ingests_the_real_sample(realdata_dir, tmp_path):
    cmd = [str(SNAKEMAKE), "-s", str(ROOT / "Snakefile"), "--configfile", str(ROOT / "config" / "ztf_bts.yaml"),
           "--cores", "2", "--config", f"data_root={realdata_dir}", "results=results"]
    proc = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=1200, check=False)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    summary = json.loads((tmp_path / "results" / "ztf_bts" / "ingest_summary.json").read_text())
    assert summary["objects_in"] == 2710
    kept_or_dropped = summary["objects_kept"] + sum(summary["objects_dropped_by_reason"].values())
    assert kept_or_dropped == 2710
    assert set(summary["objects_per_class"]) == {"Ia", "II", "Ibc", "Other"}
    objects = xr.open_zarr(tmp_path / "results" / "ztf_bts" / "lightcurves.zarr")["split"].values
    assert 530 <= (objects == "test").sum() <= 542
