"""Helpers the Snakefile uses to plan jobs; the jobs' own logic lives in the stage modules."""
from __future__ import annotations

import os
from pathlib import Path


def export_pythonpath(src: str | Path) -> None:
    """Let jobs, including those in conda environments or on cluster nodes, import this checkout's library."""
    parts = [str(Path(src).resolve())] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    os.environ["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(parts))


def dvc_outputs(root: str | Path = ".") -> list[str]:
    """Paths (relative to ``root``) of the artifacts that the DVC stages version."""
    from dvc.repo import Repo

    root = Path(root).resolve()
    with Repo(str(root)) as repo:
        return [Path(o.fs_path).relative_to(root).as_posix() for stage in repo.index.stages for o in stage.outs]


def pull(root: str | Path = ".", snakemake_args: list[str] | None = None) -> list[str]:
    """``dvc pull``, then mark the pulled artifacts up to date for Snakemake (``snakemake --touch``, in DAG order).

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
    present = [p for p in dvc_outputs(root) if (root / p).exists()]
    snakemake = Path(sys.executable).with_name("snakemake")
    cmd = [str(snakemake), *present, "--touch", "--cores", "1", *(snakemake_args or [])]
    subprocess.run(cmd, cwd=root, check=True)
    return present
