"""DVC and Snakemake together: after `astroflow pull` (dvc pull, then the pulled artifacts marked up to date) in a
fresh clone, a figure and the comparison table are made from the pulled artifacts without re-running simulation,
ingest, store, represent or any training."""
import os

import pytest

from conftest import BIN, run


@pytest.mark.workflow
def test_dvc_pull_then_figure_does_not_recompute(ci_project):
    repo, clone = ci_project, ci_project.parent / "clone"
    run("dvc", "push", cwd=repo)
    run("git", "add", "dvc.lock", cwd=repo)
    run("git", "commit", "-qm", "lock", cwd=repo)

    run("git", "clone", "-q", str(repo), str(clone), cwd=repo.parent)
    run("dvc", "pull", cwd=clone)
    store, maps = clone / "results" / "ci" / "lightcurves.zarr", clone / "results" / "ci" / "represent" / "dmdt.zarr"
    assert (store / "zarr.json").is_file() and (maps / "zarr.json").is_file()
    earlier = store.stat().st_mtime - 60  # a checkout may leave an input newer than what was made from it
    for path in (maps, *maps.rglob("*")):
        os.utime(path, (earlier, earlier))
    options = ["--cores", "2", "--configfile", "config/ci.yaml"]  # targets go before --configfile's values
    maps_target = "results/ci/represent/dmdt.zarr"
    assert "rule represent:" in run(str(BIN / "snakemake"), maps_target, "-n", *options, cwd=clone)  # plain Snakemake would recompute the maps
    run(str(BIN / "astroflow"), "pull", "--configfile", "config/ci.yaml", cwd=clone)
    figure = "results/ci/figures/examples_dmdt.png"
    out = run(str(BIN / "snakemake"), maps_target, figure, *options, cwd=clone)
    assert (clone / figure).is_file()
    for rule in ("simulate", "ingest", "store", "represent"):
        assert f"rule {rule}:" not in out, f"{rule} ran again after dvc pull"
    assert "rule represent_examples:" in out
    table = "results/ci/report/comparison.csv"
    assert not (clone / table).exists()  # the table is not versioned: it is made from the pulled evaluations
    out = run(str(BIN / "snakemake"), table, *options, cwd=clone)
    assert (clone / table).is_file() and "rule compare:" in out
    for rule in ("split", "pretrain", "finetune", "evaluate", "features", "train_forest", "evaluate_forest"):
        assert f"rule {rule}:" not in out, f"{rule} ran again after dvc pull"
