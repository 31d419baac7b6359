"""``astroflow pull``: DVC-versioned artifacts fetched and marked up to date for Snakemake."""
from __future__ import annotations

from pathlib import Path


def dvc_outputs(root: str | Path = ".") -> list[str]:
    """Paths (relative to ``root``) of the artifacts that the DVC stages version."""
    from dvc.repo import Repo

    root = Path(root).resolve()
    with Repo(str(root)) as repo:
        return [Path(o.fs_path).relative_to(root).as_posix() for stage in repo.index.stages for o in stage.outs]


def rule_outputs(root: Path, out: str) -> list[str]:
    """The rule outputs a DVC out holds: itself when it is a file or a Zarr store (a rule's directory output),
    else every file of the folder (e.g. results/<dataset>/finetune, the outputs of all fine-tuning runs)."""
    path = root / out
    if path.is_file() or path.suffix == ".zarr":
        return [out]
    return sorted(p.relative_to(root).as_posix() for p in path.rglob("*") if p.is_file())


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
    present = [p for out in dvc_outputs(root) if (root / out).exists() for p in rule_outputs(root, out)]
    snakemake = Path(sys.executable).with_name("snakemake")
    cmd = [str(snakemake), *present, "--touch", "--cores", "1", *(snakemake_args or [])]
    subprocess.run(cmd, cwd=root, check=True)
    return present
