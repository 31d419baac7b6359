"""The README's DVC cycle on the shared end-to-end run (conftest.ci_project), exactly as documented: `make run`, then
`dvc repro` recomputes nothing and leaves Snakemake nothing to do; `dvc metrics show` and `dvc plots show` give the
scores and loss curves; `dvc push` to a local remote; a second clone; `astroflow pull`; the report target remakes
every figure from the pulled artifacts without training anything, and `snakemake --report` builds."""
import json
import re
import shutil

import pytest

from conftest import BIN, ci_config, run

OPTIONS = ["--cores", "2", "--configfile", "config/ci.yaml"]  # targets go before --configfile's values
UPSTREAM = ("simulate", "ingest", "store", "represent", "split", "features", "pretrain", "finetune", "train_forest",
            "evaluate", "evaluate_forest", "encode", "uncertainty", "spectra_store", "spectra_train", "spectra_baseline",
            "stellar_grid", "stellar_train")


def rules_run(log: str) -> set[str]:
    return set(re.findall(r"^(?:local)?rule (\w+):", log, flags=re.MULTILINE)) - {"all"}


@pytest.mark.workflow
def test_dvc_repro_after_the_workflow_recomputes_nothing(ci_project):
    log = (ci_project.parent / "dvc_repro.log").read_text()
    assert log.count("Running stage") == 4, log[-3000:]
    assert log.count("Nothing to be done") == 4 and not rules_run(log), log[-3000:]
    for out in ("lightcurves.zarr", "qc.parquet", "ingest_summary.json", "report/comparison.csv"):
        assert (ci_project / "results" / "ci" / out).exists(), f"{out} was deleted"
    # DVC has hashed (and may have re-timed) every output: Snakemake still decides there is nothing to do
    assert "Nothing to be done" in run(str(BIN / "snakemake"), "-n", *OPTIONS, cwd=ci_project)
    assert "Data and pipelines are up to date" in run("dvc", "status", cwd=ci_project)


@pytest.mark.workflow
def test_dvc_metrics_and_plots(ci_project):
    metrics = json.loads(run("dvc", "metrics", "show", "--json", cwd=ci_project, stdout_only=True))
    scores = next(iter(metrics.values()))["data"]["results/ci/metrics.json"]["data"]
    assert 0 <= scores["forest/scratch/n4"]["macro_f1_mean"] <= 1
    assert scores["chance/uniform guess"]["accuracy_mean"] == pytest.approx(1 / 11, abs=1e-4)
    plots = json.loads(run("dvc", "plots", "show", "--json", cwd=ci_project, stdout_only=True))
    curves = [path for path in plots["data"] if path.startswith("results/ci/losses/") and path.endswith(".csv")]
    assert any("/pretrain/" in path for path in curves) and sum("/finetune/" in path for path in curves) == 6
    assert not plots.get("errors")


@pytest.mark.workflow
def test_pull_into_a_second_clone_then_the_report_without_training(ci_project):
    repo, clone = ci_project, ci_project.parent / "clone"
    run("dvc", "push", cwd=repo)
    run("git", "add", "dvc.lock", cwd=repo)
    run("git", "commit", "-qm", "results", cwd=repo)
    run("git", "clone", "-q", str(repo), str(clone), cwd=repo.parent)
    ci_config(clone)  # the clone's .venv; dvc.yaml is already the committed one
    out = run(str(BIN / "astroflow"), "pull", "--configfile", "config/ci.yaml", cwd=clone)
    assert "marked up to date" in out and "rule " not in out
    plan = run(str(BIN / "snakemake"), "-n", *OPTIONS, cwd=clone)
    assert not rules_run(plan) & set(UPSTREAM), plan[-3000:]

    report = clone / "results" / "ci" / "report"
    figures = sorted(p.name for p in report.glob("*.png")) + sorted(
        p.name for p in (clone / "results" / "ci" / "figures").glob("*.png"))
    assert len(figures) >= 12 and {f"uncertainty_{f}.png" for f in ("reliability", "risk_coverage", "scores")} <= set(
        figures)
    shutil.rmtree(report)  # every figure and table remade from the pulled artifacts
    shutil.rmtree(clone / "results" / "ci" / "figures")
    out = run(str(BIN / "snakemake"), *OPTIONS, cwd=clone)
    assert not rules_run(out) & set(UPSTREAM), f"{rules_run(out) & set(UPSTREAM)} ran again after the pull"
    assert {"compare", "report_data", "report_classification", "report_losses", "represent_examples",
            "report_uncertainty"} <= rules_run(out)
    assert sorted(p.name for p in report.glob("*.png")) + sorted(
        p.name for p in (clone / "results" / "ci" / "figures").glob("*.png")) == figures
    run(str(BIN / "snakemake"), *OPTIONS, "--report", "report.html", cwd=clone)
    assert (clone / "report.html").stat().st_size > 100_000
