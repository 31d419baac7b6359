"""One reader per spectrum file format; each returns :class:`~astroflow.spectra.formats.common.Spectrum` objects.

``sdss`` (SDSS/BOSS spec-lite), ``lamost`` (LAMOST low-resolution), ``desi`` (DESI coadds with redrock labels).
"""
from __future__ import annotations

from pathlib import Path

from astroflow.errors import ConfigError, InputError
from astroflow.spectra.formats import desi, lamost, sdss
from astroflow.spectra.formats.common import Spectrum

FORMATS = {"sdss": sdss, "lamost": lamost, "desi": desi}


def module(fmt: str):
    if fmt not in FORMATS:
        raise ConfigError("format", f"unknown spectrum format {fmt!r}; choose one of {sorted(FORMATS)}")
    return FORMATS[fmt]


def discover(fmt: str, root: str | Path) -> list[Path]:
    """The files of format ``fmt`` at ``root`` (a file, or a folder searched by the format's name patterns)."""
    root = Path(root)
    if root.is_file():
        return [root]
    if not root.is_dir():
        raise InputError(root, "no such file or folder")
    found = sorted({p for pattern in module(fmt).PATTERNS for p in root.glob(pattern) if p.is_file()})
    if not found:
        raise InputError(root, f"no {fmt} spectrum files ({', '.join(module(fmt).PATTERNS)})")
    return found


def read(fmt: str, path: str | Path) -> list[Spectrum]:
    return module(fmt).read(path)
