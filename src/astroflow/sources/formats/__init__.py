"""Survey file formats: one module per format, each with ``discover`` and ``read``.

``discover(root, **options)`` lists the units of a data set (a file, or a tuple of files that belong
together such as a SNANA HEAD/PHOT pair) in a fixed order, so that shards are reproducible;
``read(unit, **options)`` returns a :class:`~astroflow.catalogue.Catalogue`. A format is named by its
module, so adding a format is adding a file.
"""
from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

from astroflow.catalogue import Catalogue
from astroflow.errors import ConfigError, InputError


def names() -> list[str]:
    """All format names available."""
    return sorted(m.name for m in pkgutil.iter_modules(__path__) if not m.name.startswith("_") and m.name != "common")


def get(name: str) -> ModuleType:
    if name not in names():
        raise ConfigError("format", f"unknown format {name!r}; known formats: {', '.join(names())}")
    return importlib.import_module(f"{__name__}.{name}")


def discover(name: str, root: str | Path, /, **options) -> list:
    """The units of format ``name`` in ``root``; finding none is an InputError."""
    units = get(name).discover(Path(root), **options)
    if not units:
        raise InputError(root, f"no input files found for format {name!r}")
    return units


def read(name: str, unit, /, **options) -> Catalogue:
    return get(name).read(unit, **options)


def unlabelled(name: str, options: dict) -> dict:
    """Reader ``options`` without those that say where labels are (the module's ``unlabelled``, where it has one):
    a model reading new files of its training survey needs no labels, and new files may carry none."""
    module = get(name)
    return module.unlabelled(options) if hasattr(module, "unlabelled") else dict(options)


def read_chunks(name: str, unit, /, rows: int, **options) -> Iterator[Catalogue]:
    """The catalogue of a unit in pieces of whole objects of about ``rows`` observations, streamed by the formats
    that can (``read_chunks`` in their module: long CSV and Parquet, PLAsTiCC); the others' units come whole."""
    module = get(name)
    if hasattr(module, "read_chunks"):
        yield from module.read_chunks(unit, rows=rows, **options)
    else:
        yield module.read(unit, **options)
