"""Gaia DR3 epoch photometry as the archive's DataLink serves it (VOTable, ECSV or CSV; optionally gzipped).

One row per transit and band: ``source_id``, ``band`` (G, BP, RP), ``time``, ``mag``, ``flux``, ``flux_error``,
``rejected_by_photometry``, ``rejected_by_variability`` (plus ``transit_id``, ``solution_id``, ... unused).
A file may hold one source or many; a VOTable may hold several tables.

``time`` is the barycentric Julian date in TCB minus 2455197.5 (JD 2455197.5 is MJD 55197.0, 2010-01-01), so
MJD = time + 55197.0; the time stays barycentric TCB (no conversion to UTC: a difference of about a minute).
Gaia gives no magnitude errors, so they come from the flux errors: 2.5 / ln 10 * flux_error / flux (a
``mag_error`` column is used when a file has one). Masked values become NaN for the cleaner.

Options: ``drop_rejected`` (default false: keep every transit) drops transits flagged by ``photometry``,
``variability`` or either (true), recording the number dropped per source in the objects column
``n_rejected_dropped``; ``patterns`` are the file globs under the data root.
"""
from __future__ import annotations

import zlib
from pathlib import Path
from xml.parsers.expat import ExpatError

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from astropy.io.votable import parse as parse_votable
from astropy.table import Table

from astroflow.catalogue import Catalogue
from astroflow.errors import ConfigError, InputError
from astroflow.sources.formats.common import (
    as_float,
    check_options,
    header,
    list_files,
    read_table,
    require_columns,
    sources,
    unit_paths,
)

SUFFIXES = {".xml": "votable", ".vot": "votable", ".votable": "votable", ".ecsv": "ascii.ecsv", ".csv": "ascii.csv"}
DEFAULTS = {"drop_rejected": False,
            "patterns": tuple(f"*{s}{z}" for s in SUFFIXES for z in ("", ".gz"))}
GAIA_TIME_TO_MJD = 2455197.5 - 2400000.5
MAG_PER_RELATIVE_FLUX = 2.5 / np.log(10.0)
BANDS = ("G", "BP", "RP")
FLAGS = {"photometry": ("rejected_by_photometry",), "variability": ("rejected_by_variability",),
         True: ("rejected_by_photometry", "rejected_by_variability"), False: ()}
REQUIRED = ("source_id", "band", "time", "mag", "flux", "flux_error")
NUMERIC = ("time", "mag", "flux", "flux_error", "mag_error")
USED = REQUIRED + ("mag_error",) + FLAGS[True]


def discover(root: Path, **options) -> list[Path]:
    """One unit per file, sorted by name."""
    return list_files(root, check_options(options, DEFAULTS, "gaia_dr3")["patterns"])


def read(unit, **options) -> Catalogue:
    drop = check_options(options, DEFAULTS, "gaia_dr3")["drop_rejected"]
    if not isinstance(drop, (bool, str)) or drop not in FLAGS:
        raise ConfigError("options.drop_rejected", f"must be false, true, 'photometry' or 'variability', not {drop!r}")
    paths = unit_paths(unit)
    obs = pd.concat([read_file(path) for path in paths], ignore_index=True)
    rejected = np.zeros(len(obs), dtype=bool)
    for flag in FLAGS[drop]:
        rejected |= obs.pop(flag).to_numpy()
    obs = obs.drop(columns=[c for c in FLAGS[True] if c in obs])
    ids = pd.unique(obs["object_id"])
    dropped = obs.loc[rejected, "object_id"].value_counts()
    objects = pd.DataFrame({"object_id": ids,
                            "n_rejected_dropped": dropped.reindex(ids, fill_value=0).to_numpy(dtype=np.int64)})
    obs = obs.loc[~rejected].reset_index(drop=True)
    found = set(obs["band"])
    bands = [b for b in BANDS if b in found] + sorted(found - set(BANDS))
    return Catalogue(obs=obs, objects=objects, quantity="mag", unit="mag", survey="Gaia DR3", bands=bands,
                     sources=sources(*paths))


def read_file(path: Path) -> pd.DataFrame:
    """The transits of one file: the Catalogue's obs columns plus both rejection flags."""
    parts = []
    for table in load(path):
        require_columns(path, table.column_names, REQUIRED)
        if "mag_error" in table.column_names:
            error = as_float(table["mag_error"], path, "mag_error")
        else:
            with np.errstate(divide="ignore", invalid="ignore"):
                error = MAG_PER_RELATIVE_FLUX * as_float(table["flux_error"], path, "flux_error") / as_float(
                    table["flux"], path, "flux")
        part = pd.DataFrame({
            "object_id": text(table["source_id"]),
            "time": as_float(table["time"], path, "time") + GAIA_TIME_TO_MJD,
            "band": text(table["band"]),
            "value": as_float(table["mag"], path, "mag"),
            "error": error,
        })
        for flag in FLAGS[True]:
            part[flag] = flags(path, table, flag)
        parts.append(part)
    if sum(len(p) for p in parts) == 0:
        raise InputError(path, "no transits (empty table)")
    return pd.concat(parts, ignore_index=True)


def load(path: Path) -> list[pa.Table]:
    """The tables of a file with the columns the reader uses; CSV through the shared reader, which names bad lines."""
    fmt = SUFFIXES.get(Path(path.name.removesuffix(".gz")).suffix.lower())
    if fmt is None:
        raise InputError(path, f"unknown file type; expected one of {', '.join(SUFFIXES)} (optionally .gz)")
    if fmt == "ascii.csv":
        present = header(path)
        require_columns(path, present, REQUIRED)
        wanted = [c for c in present if c in USED]
        return [read_table(path, wanted, [c for c in wanted if c in NUMERIC])]
    try:
        if fmt == "votable":
            tables = [t.to_table() for t in parse_votable(str(path)).iter_tables()]
        else:
            tables = [Table.read(path, format=fmt)]
    except (OSError, EOFError, ValueError, TypeError, KeyError, IndexError, zlib.error, ExpatError) as err:
        raise InputError(path, f"cannot read {fmt} table: {err}") from None
    return [pa.table({c: masked_array(t[c]) for c in t.colnames if c in USED}) for t in tables]


def masked_array(column) -> pa.Array:
    column = np.ma.asarray(column)
    return pa.array(np.ma.getdata(column), mask=np.ma.getmaskarray(column))


def text(column: pa.ChunkedArray) -> np.ndarray:
    return pc.fill_null(pc.utf8_trim_whitespace(column.cast(pa.string())), "").to_numpy(zero_copy_only=False)


def flags(path: Path, table: pa.Table, name: str) -> np.ndarray:
    """A rejection flag as bool (absent or null means not rejected); text other than true/false is an error."""
    if name not in table.column_names:
        return np.zeros(table.num_rows, dtype=bool)
    column = table[name]
    if pa.types.is_boolean(column.type):
        return pc.fill_null(column, False).to_numpy(zero_copy_only=False)
    values = np.char.lower(text(column).astype(str))
    truth = np.isin(values, ["true", "t", "1"])
    bad = ~truth & ~np.isin(values, ["false", "f", "0", ""])
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise InputError(path, f"row {row + 1}: not a boolean: {values[row]!r}", field=name)
    return truth
