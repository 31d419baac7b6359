"""The environment every job of the workflow runs in, set by the Snakefile before jobs start."""
from __future__ import annotations

import os
from pathlib import Path


def export_pythonpath(src: str | Path) -> None:
    """Let jobs, including those in conda environments or on cluster nodes, import this checkout's library."""
    parts = [str(Path(src).resolve())] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    os.environ["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(parts))
