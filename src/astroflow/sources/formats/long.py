"""Bring your own catalogue: a long table, one row per observation, in CSV, Parquet or ECSV.

A data set is one file holding many objects, or a folder of files (for example one per object). Options:

- ``columns``: where the canonical fields are, ``{object_id, time, band, value, error, label}`` -> column name;
  each defaults to its own name, ``label`` to none. When ``object_id`` is mapped to null, or not mapped and the
  file has no ``object_id`` column, the file's name (without extension) is the object id.
- ``band``: one band name for files without a band column (single-band data).
- ``bands``: the survey's band names in order; bands outside it are passed on for the cleaner to record.
- ``quantity`` (``mag`` or ``flux``) and ``unit`` (an astropy unit; ``mag`` by default for magnitudes, required
  for fluxes unless the ECSV file declares one).
- ``time_format``: ``mjd`` (default), ``jd``, ``hjd``, ``bjd``, or with an offset such as ``hjd-2450000``.
- ``file_format`` (``csv``, ``parquet``, ``ecsv``; by default from the extension), ``delimiter`` (CSV, ``,``),
  ``pattern`` (glob for files in a folder), ``survey`` (a name recorded in the catalogue).

Values are passed on as read (NaN, negative errors, unsorted or repeated times included): cleaning is a later,
recorded step. Rows are never dropped here.
"""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import astropy.units as u
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from astroflow.catalogue import QUANTITIES, Catalogue, run_starts
from astroflow.errors import ConfigError, InputError
from astroflow.sources.formats import common

FIELDS = ("object_id", "time", "band", "value", "error", "label")
OPTIONS = ("columns", "band", "bands", "quantity", "unit", "time_format", "file_format", "delimiter", "pattern",
           "survey")
EXTENSIONS = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet", ".ecsv": "ecsv"}
PATTERNS = ("*.csv", "*.csv.gz", "*.csv.bz2", "*.parquet", "*.pq", "*.ecsv")


def discover(root: Path, /, **options) -> list[Path]:
    common.check_options(options, OPTIONS, "long")
    return common.list_files(root, [options["pattern"]] if options.get("pattern") else PATTERNS)


def read(source: str | Path, /, **options) -> Catalogue:
    plan = _plan(Path(source), options)
    path, kind, names = plan["path"], plan["kind"], plan["names"]
    if plan["ecsv"] is not None:
        table = plan["ecsv"].select(names)
    elif kind == "csv":
        table = common.read_table(path, names, plan["numeric"], delimiter=options.get("delimiter", ","))
    else:
        table = _read_parquet(path, names)
    return _catalogue(plan, table, common.sources(path))


def read_chunks(source: str | Path, /, rows: int = 1_000_000, **options) -> Iterator[Catalogue]:
    """The catalogue of a CSV or Parquet file in pieces of whole objects of about ``rows`` observations each, never
    holding the file whole (each object's rows must be together in the file); an ECSV file comes whole. The first
    piece carries the file's checksum."""
    plan = _plan(Path(source), options)
    path, kind = plan["path"], plan["kind"]
    if plan["ecsv"] is not None:
        yield read(source, **options)
        return
    tables = common.batches(path, kind, plan["names"], plan["numeric"], rows, options.get("delimiter", ","))
    if not plan["ids_from_name"]:
        tables = common.whole_objects(tables, plan["columns"]["object_id"], path)
    checksum = common.sources(path)
    for table in tables:
        yield _catalogue(plan, table, checksum)
        checksum = {}


def unlabelled(options: dict) -> dict:
    """The options without a label column (formats.unlabelled)."""
    columns = {k: v for k, v in (options.get("columns") or {}).items() if k != "label"}
    return {**options, "columns": columns} if "columns" in options else dict(options)


def _plan(path: Path, options: dict) -> dict:
    """What reading ``path`` takes: checked options, the columns to read and how to turn them into a Catalogue."""
    common.check_options(options, OPTIONS, "long")
    columns, mapped = _columns(options.get("columns"))
    constant_band = options.get("band")
    if constant_band is not None and "band" in mapped and columns["band"] is not None:
        raise ConfigError("options.band", "give either a constant band or a band column, not both")
    if constant_band is None and columns["band"] is None:
        raise ConfigError("options.band", "without a band column, give the band of the file")
    quantity = options.get("quantity", "mag")
    if quantity not in QUANTITIES:
        raise ConfigError("options.quantity", f"must be one of {sorted(QUANTITIES)}, not {quantity!r}")
    unit = options.get("unit") or (QUANTITIES[quantity] if quantity == "mag" else None)
    if unit is not None:
        _check_unit(unit)
    time_format = options.get("time_format", "mjd")
    common.to_mjd(np.empty(0), time_format)  # a bad time format is a config error even for an empty file

    kind = options.get("file_format") or _kind(path)
    ecsv, ecsv_units = _read_ecsv(path) if kind == "ecsv" else (None, {})
    if kind == "csv":
        present = common.header(path, options.get("delimiter", ","))
    else:
        present = ecsv.column_names if ecsv is not None else _parquet_names(path)
    unit = unit or ecsv_units.get(columns["value"])
    if unit is None:
        raise ConfigError("options.unit", "flux values need a unit (an astropy unit, e.g. nJy)")
    ids_from_name = columns["object_id"] is None or "object_id" not in mapped and "object_id" not in present
    wanted = [f for f in FIELDS if columns[f] is not None and not (f == "object_id" and ids_from_name)
              and not (f == "band" and constant_band is not None)]
    common.require_columns(path, present, [columns[f] for f in wanted])
    return {"path": path, "kind": kind, "ecsv": ecsv, "ecsv_units": ecsv_units, "columns": columns,
            "names": list(dict.fromkeys(columns[f] for f in wanted)), "wanted": wanted,
            "numeric": [columns[f] for f in ("time", "value", "error")], "ids_from_name": ids_from_name,
            "band": constant_band, "quantity": quantity, "unit": unit, "time_format": time_format,
            "survey": options.get("survey", ""), "bands": list(options.get("bands") or [])}


def _catalogue(plan: dict, table: pa.Table, checksums: dict) -> Catalogue:
    path, columns, ecsv_units = plan["path"], plan["columns"], plan["ecsv_units"]
    num = {f: common.as_float(table.column(columns[f]), path, columns[f]) for f in ("time", "value", "error")}
    for f in ("value", "error"):
        if columns[f] in ecsv_units:
            num[f] = _convert(num[f], ecsv_units[columns[f]], plan["unit"], path, columns[f])
    if plan["ids_from_name"]:
        ids = common.object_id_from(path)
    else:
        ids = pc.cast(table.column(columns["object_id"]), pa.string())
        common.check_ids(ids, path, columns["object_id"])
    band = plan["band"] if plan["band"] is not None else pc.cast(table.column(columns["band"]), pa.string())
    labelled = "label" in plan["wanted"]
    objects = _labels(ids, table.column(columns["label"]), path, columns["label"]) if labelled else None
    return common.catalogue(ids, common.to_mjd(num["time"], plan["time_format"]), band, num["value"], num["error"],
                            objects=objects, quantity=plan["quantity"], unit=str(plan["unit"]),
                            survey=plan["survey"], bands=plan["bands"], sources=checksums)


def _columns(mapping) -> tuple[dict[str, str | None], set[str]]:
    """The column of each canonical field (None: not in the file), and which of them the user mapped."""
    mapping = dict(mapping or {})
    for key in mapping:
        if key not in FIELDS:
            raise ConfigError(f"options.columns.{key}", f"unknown field; fields are {', '.join(FIELDS)}")
    for key in ("time", "value", "error"):
        if key in mapping and mapping[key] is None:
            raise ConfigError(f"options.columns.{key}", "every observation needs a time, a value and an error")
    columns = {f: f for f in FIELDS} | {"label": None} | mapping
    return columns, set(mapping)


def _check_unit(unit: str) -> None:
    try:
        u.Unit(unit)
    except ValueError as err:
        raise ConfigError("options.unit", f"{unit!r} is not an astropy unit: {err}") from None


def _kind(path: Path) -> str:
    name = path.name
    for z in common.COMPRESSED:
        name = name.removesuffix(z)
    kind = EXTENSIONS.get(Path(name).suffix.lower())
    if kind is None:
        raise InputError(path, f"cannot tell the file format from the name; set option file_format to one of "
                               f"{', '.join(sorted(set(EXTENSIONS.values())))}")
    return kind


def _parquet_names(path: Path) -> list[str]:
    try:
        return pq.read_schema(path).names
    except (pa.ArrowInvalid, OSError) as err:
        raise InputError(path, f"not a readable Parquet file: {err}") from None


def _read_parquet(path: Path, names: list[str]) -> pa.Table:
    try:
        return pq.read_table(path, columns=names)
    except (pa.ArrowInvalid, OSError) as err:
        raise InputError(path, f"not a readable Parquet file: {err}") from None


def _read_ecsv(path: Path) -> tuple[pa.Table, dict[str, u.UnitBase]]:
    """All columns of an ECSV file (astropy Time columns as MJD, masked entries as NaN or empty text), and the
    units the file declares."""
    from astropy.table import Table
    from astropy.time import Time

    try:
        table = Table.read(path, format="ascii.ecsv")
    except (ValueError, KeyError, TypeError, IndexError, OSError) as err:
        raise InputError(path, f"not a readable ECSV file: {err}") from None
    data, units = {}, {}
    for name in table.colnames:
        col = table[name]
        if isinstance(col, Time):
            data[name] = pa.array(col.mjd, type=pa.float64())
            continue
        values = np.ma.asarray(col)
        if np.ma.is_masked(values):
            values = values.astype(float).filled(np.nan) if values.dtype.kind in "iuf" else values.astype(str).filled("")
        data[name] = pa.array(np.asarray(values))
        if getattr(col, "unit", None) is not None:
            units[name] = col.unit
    return pa.table(data), units


def _convert(values: np.ndarray, have: u.UnitBase, want: str, path: Path, field: str) -> np.ndarray:
    try:
        return u.Quantity(values, have).to_value(want)
    except u.UnitConversionError:
        raise InputError(path, f"unit {have} cannot be converted to {want}", field=field) from None


def _labels(ids, labels: pa.ChunkedArray, path: Path, column: str) -> pd.DataFrame:
    """One label per object (empty text is no label); an object given two different labels is an error."""
    if isinstance(ids, str):
        ids = pa.array([ids] * len(labels), type=pa.string())
    rows = np.union1d(run_starts(ids), run_starts(labels))  # a pair repeated row after row is looked at once
    ids, labels = ids.take(rows), pc.cast(labels.take(rows), pa.string())
    labels = pc.if_else(pc.equal(labels, ""), pa.scalar(None, pa.string()), labels)
    pairs = pa.table({"object_id": ids, "label": labels}).group_by(["object_id", "label"]).aggregate([])
    pairs = pairs.to_pandas().dropna(subset=["label"])
    clash = pairs["object_id"].duplicated(keep=False)
    if clash.any():
        oid = pairs.loc[clash, "object_id"].iloc[0]
        found = sorted(pairs.loc[pairs["object_id"] == oid, "label"])
        raise InputError(path, f"object {oid!r} has more than one label: {found}", field=column)
    return pairs.astype({"label": "string"})
