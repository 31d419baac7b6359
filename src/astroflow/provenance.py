"""Provenance that every artifact records: config hash, inputs' checksums, code version."""
from __future__ import annotations

import hashlib
import json
import subprocess
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path


def sha256_file(path: str | Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def sha256_tree(path: str | Path) -> str:
    """Checksum of a file, or of a folder's relative file names and contents (for Zarr stores)."""
    path = Path(path)
    if path.is_file():
        return sha256_file(path)
    h = hashlib.sha256()
    for f in sorted(p for p in path.rglob("*") if p.is_file()):
        h.update(f.relative_to(path).as_posix().encode())
        h.update(sha256_file(f).encode())
    return h.hexdigest()


def config_hash(config: dict | tuple | list) -> str:
    """Stable hash of a configuration section, or of a list of what defines a run (key order does not matter)."""
    return hashlib.sha256(json.dumps(config, sort_keys=True, default=str).encode()).hexdigest()[:16]


def code_version() -> str:
    """Package version, plus the git commit when run from a checkout."""
    try:
        v = version("astroflow")
    except PackageNotFoundError:
        v = "unknown"
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, timeout=5, check=False,
                                cwd=Path(__file__).parent).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        commit = ""
    return f"{v}+g{commit}" if commit else v


def provenance(config: dict, inputs: dict[str, str] | None = None) -> dict:
    """The record stored in an artifact's attributes."""
    return {"config_hash": config_hash(config), "code_version": code_version(), "inputs": dict(inputs or {})}
