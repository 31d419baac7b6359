"""The workflow end to end on config/ci.yaml, as a user runs it (a Snakemake subprocess)."""
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr
import yaml

ROOT = Path(__file__).resolve().parents[1]
SNAKEMAKE = Path(sys.executable).parent / "snakemake"


def snakemake(workdir: Path, *args: str, root: Path = ROOT) -> subprocess.CompletedProcess:
    cmd = [str(SNAKEMAKE), "-s", str(root / "Snakefile"), "--configfile", str(root / "config" / "ci.yaml"),
           "--cores", "2", *args]
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    return subprocess.run(cmd, cwd=workdir, capture_output=True, text=True, env=env, timeout=1200, check=False)


@pytest.fixture(scope="module")
def ci_run(ci_project):
    """The shared end-to-end run (conftest.ci_project)."""
    return ci_project


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
def test_progress_lines_name_the_model_and_run(ci_run):
    log = ci_run / "results" / "logs" / "ci" / "finetune" / "astromer-tiny" / "pretrained" / "n4" / "f0" / "s0"
    assert re.search(r"astromer-tiny pretrained n4 f0 s0: step \d+/30 loss [\d.]+, val_loss [\d.]+, done in",
                     (log / "finetune.log").read_text())


@pytest.mark.workflow
def test_comparison_table_lists_every_model(ci_run):
    table = pd.read_csv(ci_run / "results" / "ci" / "report" / "comparison.csv")
    chance = table[table["model"] == "chance"]
    assert set(chance["init"]) == {"uniform guess", "majority class"} and (chance["test_objects"] > 0).all()
    table = table[table["model"] != "chance"]
    expected = {("astromer-tiny", "pretrained"), ("astromer-tiny", "scratch"), ("rnn", "scratch"), ("cnn", "scratch"),
                ("vit-micro", "scratch"), ("swinv2-micro-grid", "scratch"), ("forest", "scratch")}
    assert set(zip(table["model"], table["init"])) == expected
    assert table["runs"].eq(1).all() and table["macro_f1_mean"].between(0, 1).all()
    assert table["train_seconds"].gt(0).all()  # every model's training time, the forest's too
    assert (table["macro_f1_se"] > 0).any() and table["test_objects"].eq(chance["test_objects"].iloc[0]).all()
    forest = ci_run / "results" / "ci" / "evaluate" / "forest" / "scratch" / "n4" / "f0" / "s0"
    rnn = ci_run / "results" / "ci" / "evaluate" / "rnn" / "scratch" / "n4" / "f0" / "s0"
    assert (pd.read_parquet(forest / "predictions.parquet").columns == pd.read_parquet(
        rnn / "predictions.parquet").columns).all()
    assert "| forest | scratch | 4 | 1 | " in (ci_run / "results" / "ci" / "report" / "comparison.md").read_text()


@pytest.mark.workflow
def test_stellar_branch_trains_and_scores_held_back_tracks(ci_run):
    stellar = ci_run / "results" / "stellar" / "mist"
    assert sorted(p.name for p in (stellar / "models").glob("*/g*.pt")) == ["g0.pt", "g0.pt"]
    metrics = json.loads((stellar / "evaluate" / "metrics.json").read_text())
    assert metrics["members"] == 2 and {"pre", "post"} <= set(metrics)
    held = pd.read_parquet(stellar / "evaluate" / "holdback.parquet")
    assert len(held) == metrics["pre"]["points"] + metrics["post"]["points"] > 0
    assert not (stellar / "benchmarks").exists()  # ci.yaml: stellar.benchmarks null
    assert (stellar / "figures" / "stellar.png").is_file()
    assert not (stellar / "figures" / "posteriors.png").exists()  # no benchmark stars: the figure is left out


@pytest.mark.workflow
def test_uncertainty_scores_every_test_object_by_every_method(ci_run):
    results = ci_run / "results" / "ci"
    table = pd.read_csv(results / "report" / "uncertainty.csv")
    assert set(table["method"]) == {"deterministic", "mc_dropout", "hsa", "ha_mc_dropout", "ensemble"}
    assert set(table.loc[table["method"] == "deterministic", "score"]) == {"max_p", "entropy"}
    assert table.loc[table["method"] == "deterministic", "cost"].eq(1).all()
    assert table["vs_max_p_mean"].notna().any()  # every score against the deterministic run beside it
    run = results / "uncertainty" / "astromer-tiny" / "pretrained" / "n4" / "f0" / "s0"
    split = pd.read_parquet(results / "split.parquet")
    test = set(split.loc[split["role"] == "test", "object_id"])
    for method in ("mc_dropout", "ensemble"):
        objects = pd.read_parquet(run / method / "objects.parquet")
        assert set(objects["object_id"]) == test and objects["object_id"].is_unique
        assert {"smp", "pv", "bald", "entropy"} <= set(objects.columns) and objects["pv"].ge(0).all()
        metrics = json.loads((run / method / "metrics.json").read_text())
        assert metrics["members"] == (2 if method == "ensemble" else 1) and metrics["passes"] == (
            2 if method == "ensemble" else 3)
        assert 0 <= metrics["calibrated"]["ece"] <= 1 and metrics["temperature"] > 0
        assert set(pd.read_csv(run / method / "coverage.csv")["score"]) == {"smp", "pv", "bald", "entropy"}
    logs = list((ci_run / "results" / "logs" / "ci" / "uncertainty").rglob("*.log"))
    assert logs and not any("no table is given" in log.read_text() for log in logs)  # features read, not extracted
    assert (results / "pretrain" / "astromer-tiny-hsa" / "s0" / "model.pt").is_file()  # HSA from pretraining on
    assert (results / "finetune" / "astromer-tiny" / "pretrained" / "n4" / "f0" / "s1" / "model.pt").is_file()
    for figure in ("reliability", "risk_coverage", "scores"):
        assert (results / "report" / f"uncertainty_{figure}.png").stat().st_size > 5000


@pytest.mark.workflow
def test_rerun_does_nothing(ci_run):
    proc = snakemake(ci_run, "-n", root=ci_run)
    assert proc.returncode == 0
    assert "Nothing to be done" in proc.stdout + proc.stderr


def reversed_keys(value):
    """``value`` with the keys of every mapping in reverse order."""
    if isinstance(value, dict):
        return {k: reversed_keys(value[k]) for k in reversed(list(value))}
    return value


@pytest.mark.workflow
def test_reordered_config_keys_rerun_nothing(ci_run, tmp_path):
    config = reversed_keys(yaml.safe_load((ci_run / "config" / "ci.yaml").read_text()))
    (tmp_path / "reordered.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    proc = snakemake(ci_run, "-n", "--configfile", str(tmp_path / "reordered.yaml"), root=ci_run)
    assert proc.returncode == 0 and "Nothing to be done" in proc.stdout + proc.stderr, proc.stdout[-3000:]


@pytest.mark.workflow
@pytest.mark.parametrize(("change", "first"), [({"clean": {"min_points": 6}}, "ingest"),
                                               ({"simulate": {"seed": 8}}, "simulate")])
def test_dataset_settings_rerun_their_stages(ci_run, tmp_path, change, first):
    config = yaml.safe_load((ci_run / "config" / "ci.yaml").read_text())
    config["datasets"]["ci"] |= change
    (tmp_path / "changed.yaml").write_text(yaml.safe_dump(config))
    out = snakemake(ci_run, "-n", "--configfile", str(tmp_path / "changed.yaml"), root=ci_run).stdout
    assert f"rule {first}:" in out and "rule store:" in out and "rule finetune:" in out, out[-3000:]


@pytest.mark.workflow
def test_predictions_are_those_of_the_same_seeds_before_the_refactoring(ci_run):
    """Every CI model's test probabilities, as recorded from the workflow on config/ci.yaml (last re-recorded when
    issue 10 changed the default models on purpose: the period fold and features, the random forest)."""
    recorded = json.loads((ROOT / "tests" / "data" / "ci_predictions.json").read_text())
    for run, probs in recorded.items():
        table = pd.read_parquet(ci_run / "results" / "ci" / "evaluate" / run / "predictions.parquet")
        got = table.set_index("object_id").filter(like="p_")
        assert sorted(got.index) == sorted(probs), run
        for object_id, p in probs.items():
            np.testing.assert_allclose(got.loc[object_id].to_numpy(), p, atol=1e-5, err_msg=f"{run} {object_id}")


def test_bad_config_names_the_key(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("datasets:\n  ci:\n    shards: 0\n")
    proc = snakemake(tmp_path, "-n", "--configfile", str(bad))
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert "config key 'datasets.ci.shards': 0 is less than the minimum of 1" in out  # before any schema dump


def test_image_weights_for_a_model_that_reads_no_images_is_refused(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("train:\n  image_weights: {rnn: /weights.safetensors}\n")
    proc = snakemake(tmp_path, "-n", "--configfile", str(ROOT / "config" / "ci.yaml"), str(bad))
    assert proc.returncode != 0 and "'rnn' is not an image model" in proc.stdout + proc.stderr


def test_what_a_pretrained_run_starts_from_is_its_input(tmp_path):
    """An image weights file; an encoder pretrained on other data sets (train.pretrain.datasets: a simulated corpus
    and the data set's own pool), whose stores and feature tables the pretrain job reads, in paths of its own."""
    weights = tmp_path / "w.safetensors"
    weights.write_bytes(b"")
    extra = tmp_path / "extra.yaml"
    extra.write_text(f"train:\n  models: [vit-micro, astromer-tiny]\n  image_weights: {{vit-micro: {weights}}}\n"
                     "  pretrain: {datasets: [ci_corpus, ci]}\ndatasets:\n  ci_corpus:\n"
                     "    simulate: {n_objects: 30, labelled: false, bands: macho}\n")
    proc = snakemake(tmp_path, "-n", "--configfile", str(ROOT / "config" / "ci.yaml"), str(extra))
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "evaluate/vit-micro/pretrained/n4/f0/s0/metrics.json" in proc.stdout and str(weights) in proc.stdout
    jobs = proc.stdout.split("\nrule ")[1:]
    pretrained = "results/ci/pretrain/astromer-tiny@ci+ci_corpus/s0/model.pt"
    pretrain = next(job for job in jobs if job.startswith("pretrain:") and pretrained in job)
    for path in ("results/ci_corpus/lightcurves.zarr", "results/ci_corpus/features.parquet", "results/ci/split.parquet"):
        assert path in pretrain.split("output:")[0]
    assert any(job.startswith("finetune:") and pretrained in job.split("output:")[0] and
               "finetune/astromer-tiny/pretrained@ci+ci_corpus/n4/f0/s0/model.pt" in job for job in jobs)
    assert "uncertainty/astromer-tiny/pretrained@ci+ci_corpus/n4/f0/s0/ensemble/metrics.json" in proc.stdout


def test_held_out_classes_train_the_uncertainty_models_again_apart(tmp_path):
    """uncertainty.held_out_classes: every model the uncertainty runs read (the -hsa twin and ensemble members too)
    is fine-tuned again under uncertainty/held_out/ and scored there by every method; the runs with every class stay."""
    extra = tmp_path / "held_out.yaml"
    extra.write_text("uncertainty:\n  held_out_classes: [SNIa]\n")
    proc = snakemake(tmp_path, "-n", "--configfile", str(ROOT / "config" / "ci.yaml"), str(extra))
    assert proc.returncode == 0, proc.stderr[-3000:]
    jobs = {}
    for block in proc.stdout.split("\nrule ")[1:]:
        found = {key: re.search(rf"^\s+{key}: (.*)$", block, re.MULTILINE) for key in ("input", "output")}
        jobs.setdefault(block.split(":", 1)[0], []).append({k: v.group(1) if v else "" for k, v in found.items()})
    held_out = "results/ci/uncertainty/held_out"
    trained = {job["output"].split(", ")[0].removeprefix(f"{held_out}/finetune/") for job in jobs["finetune_held_out"]}
    assert trained == {f"{m}/pretrained/n4/f0/s{s}/model.pt" for m, s in (("astromer-tiny", 0), ("astromer-tiny", 1),
                                                                          ("astromer-tiny-hsa", 0))}
    scored = jobs["uncertainty_held_out"]
    assert len(scored) == len(jobs["uncertainty"]) == 5
    assert all(job["output"].startswith(held_out) and f"{held_out}/finetune/" in job["input"] for job in scored)
    assert not any("held_out" in job["input"] + job["output"] for job in jobs["uncertainty"] + jobs["finetune"])
    summarised = jobs["uncertainty_summary"][0]["input"].split(", ")
    assert sum(held_out in path for path in summarised) == 10  # metrics.json and objects.parquet of each


def test_slurm_profile_dry_run(tmp_path):
    """Every job that runs a network gets a GPU, training and inference jobs their threads (a dry run caps threads
    at its own --cores)."""
    proc = snakemake(tmp_path, "-n", "--workflow-profile", str(ROOT / "profiles" / "slurm"), "--cores", "64")
    assert proc.returncode == 0, proc.stderr[-3000:]
    jobs = {}
    for block in proc.stdout.split("\nrule ")[1:]:
        rule = block.split(":", 1)[0]
        threads = re.search(r"^\s+threads: (\d+)", block, re.MULTILINE)
        jobs.setdefault(rule, set()).add((int(threads.group(1)) if threads else 1, "gpu=1" in block))
    expected = {"pretrain": (8, True), "finetune": (4, True), "evaluate": (4, True), "encode": (4, True),
                "features": (16, False), "train_forest": (8, False), "ingest": (1, False)}
    for rule, assigned in expected.items():
        assert jobs[rule] == {assigned}, f"{rule}: {jobs[rule]} (threads, gpu), expected {assigned}"


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


@pytest.mark.workflow
def test_spectra_branch_scores_every_model_on_one_split(ci_run):
    results = ci_run / "results" / "specci" / "spectra"
    ds = xr.open_zarr(results / "store.zarr")
    assert ds["flux"].dims == ("object", "pixel") and ds.sizes["object"] == int(
        pd.read_parquet(results / "qc.parquet")["kept"].sum())
    table = pd.read_csv(results / "report" / "comparison.csv")
    assert table["model"].tolist() == ["spectromer-micro", "spectrum-cnn", "forest", "svm"]
    assert table["class_macro_f1_mean"].between(0, 1).all() and table["runs"].eq(1).all()
    ids = [pd.read_parquet(results / "evaluate" / m / "s0" / "predictions.parquet")["object_id"].tolist()
           for m in table["model"]]
    assert all(i == ids[0] for i in ids) and len(ids[0]) > 0
    metrics = json.loads((results / "evaluate" / "forest" / "s0" / "metrics.json").read_text())
    assert len(metrics["class"]["confusion_matrix"]) == 3 and "success_rate" in metrics["redshift"]
    assert all((results / "report" / f"{figure}.png").stat().st_size > 5000 for figure in ("confusion", "redshift"))


def test_features_and_prediction_fan_out_over_shares_of_the_store(tmp_path):
    """train.jobs_per_store above 1: a features job and a predict job per share of the store's objects, each
    joined into the one table (the tables' equality: tests/test_streaming.py)."""
    extra = tmp_path / "shares.yaml"
    extra.write_text("train:\n  jobs_per_store: 3\n")
    proc = snakemake(tmp_path, "-n", "results/ci/predict/ci/astromer-tiny/pretrained/n4/f0/s0.parquet",
                     "--configfile", str(ROOT / "config" / "ci.yaml"), str(extra))
    assert proc.returncode == 0, proc.stderr[-3000:]
    counts = dict(re.findall(r"^(features|features_join|predict|predict_join)\s+(\d+)$", proc.stdout, re.MULTILINE))
    assert counts == {"features": "3", "features_join": "1", "predict": "3", "predict_join": "1"}, proc.stdout[-3000:]
    assert "results/ci/features.part2.parquet" in proc.stdout


def test_one_pretraining_job_on_several_gpus_runs_under_torchrun(ci_run, tmp_path):
    """train.pretrain.gpus above 1: the pretrain job is a torchrun command (a dry run shows it), and that command's
    job, run with two CPU processes (Gloo) for a few steps, writes the pretrained encoder once."""
    from astroflow.train import artifacts

    extra = tmp_path / "gpus.yaml"
    extra.write_text("train:\n  pretrain: {gpus: 2}\n")
    proc = snakemake(ci_run, "-n", "-p", "results/ci/pretrain/astromer-tiny/s0/model.pt", "--forcerun",
                     "pretrain_torchrun", "--configfile", str(ROOT / "config" / "ci.yaml"), str(extra), root=ci_run)
    assert proc.returncode == 0, proc.stderr[-3000:]
    command = re.search(r"torchrun --standalone --nproc_per_node 2 -m astroflow.train.pretrain '(\{.*?\})'",
                        proc.stdout)
    assert command, proc.stdout[-3000:]
    job = json.loads(command.group(1))
    job["params"]["optimiser"] |= {"max_steps": 2, "eval_every": 1, "checkpoint_every": 1}
    job["params"]["workdir"] = str(tmp_path / "work")
    job["output"] = {"model": str(tmp_path / "model.pt"), "metrics": str(tmp_path / "metrics.csv")}
    done = subprocess.run([str(SNAKEMAKE.parent / "torchrun"), "--standalone", "--nproc_per_node", "2", "-m",
                           "astroflow.train.pretrain", json.dumps(job)], cwd=ci_run, capture_output=True, text=True,
                          timeout=600, env={**os.environ, "PYTHONPATH": str(ROOT / "src")}, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    assert artifacts.load_model(tmp_path / "model.pt")[1].kind == "encoder"
    assert len(pd.read_csv(tmp_path / "metrics.csv")) and not (tmp_path / "work").exists()
