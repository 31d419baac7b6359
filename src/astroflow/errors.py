"""Errors that name the file, line and field at fault, so bad input never ends in a deep traceback."""
from __future__ import annotations

from pathlib import Path


class AstroflowError(Exception):
    """Base class for errors a user can act on."""


class InputError(AstroflowError):
    """A malformed input file: says which file, where, and what is wrong."""

    def __init__(self, path: str | Path, problem: str, line: int | None = None, field: str | None = None):
        self.path = str(path)
        self.problem = problem
        self.line = line
        self.field = field
        where = self.path + (f":{line}" if line is not None else "")
        what = f"field '{field}': " if field else ""
        super().__init__(f"{where}: {what}{problem}")


class ConfigError(AstroflowError):
    """A bad configuration value: names the key."""

    def __init__(self, key: str, problem: str):
        self.key = key
        super().__init__(f"config key '{key}': {problem}")


class DownloadError(AstroflowError):
    """A download that failed, or whose checksum did not match."""
