"""``astroflow pull``: DVC-versioned artifacts fetched and marked up to date for Snakemake."""
from __future__ import annotations

from pathlib import Path


def dvc_outputs(root: str | Path = ".") -> list[str]:
    """Paths (relative to ``root``) of the artifacts that the DVC stages version."""
    from dvc.repo import Repo

    root = Path(root).resolve()
    with Repo(str(root)) as repo:
        return [Path(o.fs_path).relative_to(root).as_posix() for stage in repo.index.stages for o in stage.outs]


def rule_outputs(root: Path, outs: list[str], snakemake: Path, snakemake_args: list[str]) -> list[str]:
    """The outputs of the workflow's jobs (``snakemake --summary``, every job of the run, in DAG order) that lie in
    the DVC outs and are present: the files and directories Snakemake knows as outputs, not the files inside a
    Zarr store or another directory output."""
    import subprocess

    proc = subprocess.run([str(snakemake), "--summary", "--cores", "1", *snakemake_args], cwd=root,
                          capture_output=True, text=True, check=True)
    lines = proc.stdout.splitlines()
    start = next((i for i, line in enumerate(lines) if line.startswith("output_file")), len(lines))
    paths = [line.split("\t")[0] for line in lines[start + 1:] if line.strip()]
    inside = [p for p in paths if any(p == o or p.startswith(f"{o}/") for o in outs)]
    return [p for p in dict.fromkeys(inside) if (root / p).exists()]


def pull(root: str | Path = ".", snakemake_args: list[str] | None = None) -> list[str]:
    """``dvc pull``, then mark the pulled artifacts up to date for Snakemake (``snakemake --touch``, in DAG order);
    returns what was marked.

    A checkout gives files new modification times in no particular order, and without Snakemake's own records
    (which are not versioned) an input newer than its output means a rerun; touching fixes the order, so that
    figure and report targets are made from the pulled artifacts without recomputing what they came from.
    """
    import subprocess
    import sys

    from dvc.repo import Repo

    root = Path(root).resolve()
    with Repo(str(root)) as repo:
        repo.pull()
    snakemake = Path(sys.executable).with_name("snakemake")
    args = list(snakemake_args or [])
    present = rule_outputs(root, dvc_outputs(root), snakemake, args)
    if present:
        subprocess.run([str(snakemake), *present, "--touch", "--cores", "1", "--quiet", "all", *args], cwd=root,
                       check=True)
    return present
