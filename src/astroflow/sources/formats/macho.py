"""MACHO-style light curves: one text file per object and band, whitespace-separated rows ``MJD mag err``.

Accepted layouts under the data root (the band comes from the file name first, then from the folder):

- ``<id>.<band>.dat``, for example ``1.3319.10.B.dat`` (the id may itself contain dots);
- ``<band>/<id>.dat``, a folder per band, for example ``R/1.3319.10.dat``.

Options: ``bands`` (the band names, default B and R), ``suffix`` (default ``.dat``). Blank lines and text
after ``#`` are skipped. Values are passed on as read: NaN, negative errors, unsorted or repeated times are
the cleaner's to record. A file whose band cannot be told, a row with the wrong number of columns, text in a
numeric field, or a file without observations is an InputError. The layout serves other surveys that ship
per-band files too (see ``ogle3``).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from astroflow.catalogue import Catalogue
from astroflow.errors import InputError
from astroflow.sources.formats.common import catalogue, check_options, read_table, sources, unit_paths

DEFAULTS = {"bands": ("B", "R"), "suffix": ".dat"}
FIELDS = ("MJD", "mag", "err")


def discover(root: Path, **options) -> list[tuple[Path, ...]]:
    """One unit per object: its band files, in the order of ``bands``."""
    opts = check_options(options, DEFAULTS, "macho")
    return band_file_units(root, opts["bands"], opts["suffix"])


def read(unit, **options) -> Catalogue:
    opts = check_options(options, DEFAULTS, "macho")
    records = [read_band_file(path, opts["bands"], opts["suffix"], FIELDS) for path in unit_paths(unit)]
    return band_catalogue(records, survey="MACHO", bands=opts["bands"])


def band_of(path: Path, bands, suffix: str) -> tuple[str, str]:
    """(object id, band) of a band file, from ``<id>.<band><suffix>`` or ``<band>/<id><suffix>``."""
    stem = path.name.removesuffix(suffix) if suffix else path.stem
    head, _, last = stem.rpartition(".")
    if head and last in bands:
        return head, last
    if path.parent.name in bands:
        return stem, path.parent.name
    raise InputError(path, f"cannot tell the band: expected <id>.<band>{suffix} or <band>/<id>{suffix} "
                           f"with band one of {list(bands)}")


def band_file_units(root: Path, bands, suffix: str) -> list[tuple[Path, ...]]:
    """Band files under ``root`` grouped by object id, sorted by id; a single file is its own unit."""
    root = Path(root)
    if not root.exists():
        raise InputError(root, "no such file or folder")
    paths = [root] if root.is_file() else sorted(p for p in root.rglob(f"*{suffix}") if p.is_file())
    groups: dict[str, list[tuple[int, Path]]] = {}
    for path in paths:
        object_id, band = band_of(path, bands, suffix)
        groups.setdefault(object_id, []).append((list(bands).index(band), path))
    return [tuple(path for _, path in sorted(files)) for _, files in sorted(groups.items())]


def read_band_file(path: Path, bands, suffix: str, fields) -> tuple[str, str, np.ndarray, Path]:
    """(object id, band, an (n, 3) float64 array of ``fields``, path) of one band file."""
    object_id, band = band_of(path, bands, suffix)
    table = read_table(path, fields, fields, delimiter=None, names=fields, comment="#")
    if table.num_rows == 0:
        raise InputError(path, "no observations (empty or comments only)")
    return object_id, band, np.column_stack([table.column(f).to_numpy() for f in fields]), path


def band_catalogue(records, survey: str, bands, labels: dict[str, str | None] | None = None) -> Catalogue:
    """A magnitude Catalogue from ``(object id, band, rows of time/mag/err, path)`` records, in file order."""
    rows = np.concatenate([r[2] for r in records])
    sizes = [len(r[2]) for r in records]
    objects = None
    if labels is not None:
        objects = pd.DataFrame({"object_id": list(labels), "label": pd.array(list(labels.values()), dtype="string")})
    present = {r[1] for r in records}
    return catalogue(np.repeat([r[0] for r in records], sizes), rows[:, 0], np.repeat([r[1] for r in records], sizes),
                     rows[:, 1], rows[:, 2], objects=objects, quantity="mag", unit="mag", survey=survey,
                     bands=[b for b in bands if b in present], sources=sources(*(r[3] for r in records)))
