"""The light-curve store: one Zarr v3 group per data set, laid out as a CF contiguous ragged array.

Layout (CF-1.11 discrete sampling geometry, featureType ``timeSeries``)::

    dimension obs      time (float64, MJD in days), mag or flux and mag_err or flux_err (float32, with units),
                       band (int8 code into the ``bands`` attribute)
    dimension object   object_id (str), row_size (int64, sample_dimension "obs"), offset (int64),
                       label (int64 code into ``class_names``, -1 unknown),
                       optional ra, dec (deg), redshift, period (d) (float64, NaN unknown), split (str)
    group qc           the cleaner's per-object QC table (kept and dropped objects), one array per column
                       along dimension ``row``, column order in the group's ``columns`` attribute

Objects are contiguous along ``obs`` and sorted by time within each object, so one object is one slice and a
whole store loads into :class:`~astroflow.ragged.Ragged` with one read per variable. Arrays are chunked along
their dimension (``chunk_obs``) and chunks are grouped into shards (``shard_obs``), so a store of millions of
objects is a few files per variable. Global attributes: survey, bands, class_names, quantity, units, featureType,
Conventions, and provenance (a JSON string, so the attributes stay CF/netCDF-compatible; decoded by
:attr:`LightCurveStore.attrs`).
"""
from __future__ import annotations

import contextlib
import glob
import json
import logging
import shutil
import uuid
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr
import zarr
from zarr.codecs import BloscCodec

from astroflow.catalogue import Catalogue, codes_in
from astroflow.errors import InputError
from astroflow.ragged import Ragged, positions

log = logging.getLogger(__name__)

# Bit-shuffled zstd: times, magnitudes and small integer codes all compress well and decode at GB/s. Level 1: a
# third less time writing a store than level 5, for 3-5% more bytes.
COMPRESSOR = BloscCodec(cname="zstd", clevel=1, shuffle="bitshuffle")
OPTIONAL_FLOAT = {
    "ra": {"units": "degree", "long_name": "right ascension (ICRS)"},
    "dec": {"units": "degree", "long_name": "declination (ICRS)"},
    "redshift": {"units": "1", "long_name": "redshift"},
    "period": {"units": "d", "long_name": "period"},
}
OPTIONAL_STR = {"split": {"long_name": "split or fold assignment"}}
OBJECT_VARS = ("object_id", "row_size", "offset", "label")

# Bytes an observation takes in memory: time, value, error and band as stored (8 + 4 + 4 + 1), held twice while the
# buffer's blocks are joined, plus the gather positions of the windows cut from them.
BYTES_PER_OBS = 48
BUFFER_BLOCKS = 8  # blocks in a full buffer: the shuffle mixes objects of this many places of the store


def to_ragged(cat: Catalogue, class_names: list[str] | None = None) -> Ragged:
    """The catalogue as ragged arrays in the order of ``cat.objects``, each object's observations sorted by time.

    Labels become codes into ``class_names`` (default: the sorted distinct labels), bands codes into ``cat.bands``.
    """
    ids = cat.objects["object_id"].astype(str)
    if ids.duplicated().any():
        raise ValueError(f"object ids repeat in the objects table, e.g. {ids[ids.duplicated()].iloc[0]!r}")
    obj = _codes(cat.obs["object_id"], ids, "object_id", "the objects table")
    if len(cat.bands) > np.iinfo(np.int8).max:
        raise ValueError(f"{len(cat.bands)} bands do not fit int8 band codes")
    band = _codes(cat.obs["band"], cat.bands, "band", f"the bands {cat.bands}").astype(np.int8)
    labels = cat.objects["label"]
    known = labels.notna().to_numpy()
    if class_names is None:
        class_names = sorted(pd.unique(labels[known].astype(str)))
    label = np.full(len(ids), -1, dtype=np.int64)
    label[known] = _codes(labels[known], class_names, "label", f"class_names {class_names}")
    time = cat.obs["time"].to_numpy(dtype=np.float64)
    if not np.isfinite(time).all():
        bad = int(np.flatnonzero(~np.isfinite(time))[0])
        raise ValueError(f"non-finite time {time[bad]} for object {cat.obs['object_id'].iloc[bad]!r}: clean first")
    with np.errstate(over="ignore"):
        value = cat.obs["value"].to_numpy(dtype=np.float32)
        error = cat.obs["error"].to_numpy(dtype=np.float32)
    overflow = np.isinf(value) & np.isfinite(cat.obs["value"].to_numpy(dtype=np.float64))
    overflow |= np.isinf(error) & np.isfinite(cat.obs["error"].to_numpy(dtype=np.float64))
    if overflow.any():
        bad = int(np.flatnonzero(overflow)[0])
        raise ValueError(f"value or error of object {cat.obs['object_id'].iloc[bad]!r} overflows float32: clean first")
    same = obj[1:] == obj[:-1]
    if not (np.all(obj[1:] >= obj[:-1]) and np.all(time[1:][same] >= time[:-1][same])):
        order = np.lexsort((time, obj))
        obj, time, value, error, band = obj[order], time[order], value[order], error[order], band[order]
    return Ragged(time=time, value=value, error=error, band=band, row_size=np.bincount(obj, minlength=len(ids)),
                  label=label, object_id=ids.to_numpy(dtype=str), bands=list(cat.bands), class_names=list(class_names))


def write_store(cat: Catalogue, path: str | Path, *, class_names: list[str] | None = None,
                provenance: dict | None = None, qc: pd.DataFrame | None = None, chunk_obs: int = 65536,
                shard_obs: int = 4_194_304) -> None:
    """Write a catalogue as a store at ``path``, atomically (an existing store is replaced only on success).

    ``provenance`` (config hash, code version, ...) is stored as given; the catalogue's input checksums are added
    under ``inputs`` unless the caller gave that key. An empty catalogue gives a valid store of zero objects.
    """
    _check_chunking(chunk_obs, shard_obs)
    ragged = to_ragged(cat, class_names)
    record = dict(provenance or {})
    if cat.sources:
        record.setdefault("inputs", dict(cat.sources))
    if not len(ragged):
        log.warning("writing an empty store (no objects) to %s", path)
    optional = [c for c in (*OPTIONAL_FLOAT, *OPTIONAL_STR) if c in cat.objects.columns]
    with atomic_path(path) as tmp:
        arrays = _create_layout(tmp, survey=cat.survey, quantity=cat.quantity, units=cat.unit, bands=ragged.bands,
                                class_names=ragged.class_names, provenance=record, optional=optional,
                                n_obs=len(ragged.time), n_objects=len(ragged), chunk=chunk_obs, shard=shard_obs)
        data = {"time": ragged.time, cat.quantity: ragged.value, f"{cat.quantity}_err": ragged.error,
                "band": ragged.band, "object_id": ragged.object_id, "row_size": ragged.row_size,
                "offset": ragged.offset, "label": ragged.label}
        data.update({c: _optional_column(cat.objects[c], c) for c in optional})
        for name, values in data.items():
            arrays[name][:] = values
        if qc is not None:
            _write_table(tmp, "qc", qc, chunk_obs, shard_obs)
        consolidate(tmp)


class DuplicateObjectError(ValueError):
    """One object id in two shard stores (read from files that landed in different shards)."""

    def __init__(self, object_id: str, stores: list):
        self.object_id, self.stores = object_id, stores
        super().__init__(f"object {object_id!r} is in more than one shard store ({', '.join(map(str, stores))})")


def merge_stores(paths: Sequence[str | Path], out_path: str | Path, provenance: dict | None = None) -> None:
    """Join shard stores into one, streaming a block at a time, so memory stays bounded by a shard.

    Bands become their union over shards in order of first appearance; class names stay as they are where all
    shards share one list (as when the config fixes it), else become their sorted union (as ``write_store`` would
    make them from all labels at once). Band and label codes are remapped accordingly. Provenance is
    ``provenance`` if given, else the first shard's with the union of all shards' ``inputs``. Chunking follows
    the first shard. QC tables (one row per object) are joined in memory.
    """
    shards = [LightCurveStore(p) for p in paths]
    if not shards:
        raise ValueError("merge_stores needs at least one shard store")
    # A shard whose objects were all dropped adds only QC rows: its quantity, bands and classes do not count.
    stores = [s for s in shards if s.n_objects] or shards[:1]
    first = stores[0]
    for s in stores[1:]:
        if (s.quantity, s.units) != (first.quantity, first.units):
            raise ValueError(f"cannot merge {s.path} ({s.quantity} [{s.units}]) with {first.path} "
                             f"({first.quantity} [{first.units}])")
    bands = list(dict.fromkeys(b for s in stores for b in s.bands))
    class_names = stores[0].class_names
    if any(s.class_names != class_names for s in stores):
        class_names = sorted({c for s in stores for c in s.class_names})
    optional = [c for c in (*OPTIONAL_FLOAT, *OPTIONAL_STR) if any(c in s.objects.columns for s in stores)]
    if provenance is None:
        provenance = dict(first.attrs["provenance"])
        provenance["inputs"] = {k: v for s in stores for k, v in s.attrs["provenance"].get("inputs", {}).items()}
    time = first._group["time"]
    chunk, shard = time.chunks[0], (time.shards or time.chunks)[0]
    surveys = list(dict.fromkeys(s.attrs["survey"] for s in stores if s.attrs["survey"]))
    ids = pd.Index(np.concatenate([s.objects["object_id"].to_numpy(dtype=object) for s in stores]))
    if ids.has_duplicates:
        object_id = ids[ids.duplicated()][0]
        raise DuplicateObjectError(object_id, [s.path for s in stores if (s.objects["object_id"] == object_id).any()])
    with atomic_path(out_path) as tmp:
        arrays = _create_layout(tmp, survey=",".join(surveys), quantity=first.quantity, units=first.units,
                                bands=bands, class_names=class_names, provenance=provenance, optional=optional,
                                n_obs=sum(s.n_obs for s in stores), n_objects=sum(s.n_objects for s in stores),
                                chunk=chunk, shard=shard)
        writers = {name: _Appender(a) for name, a in arrays.items()}
        n_obs = 0
        for s in stores:
            band_code = np.array([bands.index(b) for b in s.bands], dtype=np.int8)
            label_code = np.array([class_names.index(c) for c in s.class_names] + [-1], dtype=np.int64)
            for start in range(0, s.n_obs, shard):
                block = slice(start, min(start + shard, s.n_obs))
                for name in ("time", s.quantity, f"{s.quantity}_err"):
                    writers[name].append(s._group[name][block])
                writers["band"].append(band_code[s._group["band"][block]])
            objects = s.objects
            writers["object_id"].append(objects["object_id"].to_numpy(dtype=object))
            writers["row_size"].append(objects["row_size"].to_numpy())
            writers["offset"].append(objects["offset"].to_numpy() + n_obs)
            writers["label"].append(label_code[objects["label"].to_numpy()])
            for c in optional:
                column = objects[c] if c in objects else pd.Series(np.full(len(objects), pd.NA), dtype=object)
                writers[c].append(_optional_column(column, c))
            n_obs += s.n_obs
        for w in writers.values():
            w.close()
        tables = [s.qc for s in shards]
        if any(t is not None for t in tables):
            if any(t is None for t in tables):
                raise ValueError("some shard stores have a QC table and some do not")
            _write_table(tmp, "qc", pd.concat(tables, ignore_index=True), chunk, shard)
        consolidate(tmp)


class LightCurveStore:
    """Read access to a store: object table in memory, observations read on demand."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        if not (self.path / "zarr.json").is_file():
            raise InputError(self.path, "no light-curve store here (no zarr.json)")
        self._group = zarr.open_group(self.path, mode="r")
        attrs = dict(self._group.attrs)
        missing = [k for k in ("quantity", "bands", "class_names", "provenance") if k not in attrs]
        missing += [v for v in ("time", "band", *OBJECT_VARS) if v not in self._group]
        if missing:
            raise InputError(self.path, f"not an astroflow light-curve store: lacks {missing}")
        attrs["provenance"] = json.loads(attrs["provenance"])
        self.attrs: dict = attrs
        self.quantity: str = attrs["quantity"]
        self.units: str = attrs["units"]
        self.bands: list[str] = list(attrs["bands"])
        self.class_names: list[str] = list(attrs["class_names"])
        self._objects: pd.DataFrame | None = None
        self._blocks: dict[str, tuple[int, int, np.ndarray]] = {}

    @property
    def reading(self) -> dict:
        """How the data were read and cleaned (``clean``: CleanConfig fields; ``reader``: format and options, empty
        for simulated data), for a model trained on the store to read and clean new data alike."""
        record = self.attrs["provenance"]
        return {"clean": dict(record.get("clean", {})), "reader": dict(record.get("reader", {}))}

    @property
    def n_objects(self) -> int:
        return self._group["row_size"].shape[0]

    @property
    def n_obs(self) -> int:
        return self._group["time"].shape[0]

    def __len__(self) -> int:
        return self.n_objects

    @property
    def objects(self) -> pd.DataFrame:
        """Per-object variables (object_id, row_size, offset, label and the optional ones), read once."""
        if self._objects is None:
            names = [n for n in (*OBJECT_VARS, *OPTIONAL_FLOAT, *OPTIONAL_STR) if n in self._group]
            self._objects = pd.DataFrame({n: _read_column(self._group[n]) for n in names})
        return self._objects

    @property
    def qc(self) -> pd.DataFrame | None:
        """The cleaner's QC table stored with the light curves, or None when none was given."""
        if "qc" not in self._group:
            return None
        table = self._group["qc"]
        return pd.DataFrame({c: _read_column(table[c]) for c in table.attrs["columns"]})

    def load(self, index=None) -> Ragged:
        """All objects, or those at ``index`` in that order, as in-memory ragged arrays."""
        objects = self.objects
        names = ("time", self.quantity, f"{self.quantity}_err", "band")
        if index is None:
            obs = {n: self._group[n][:] for n in names}
        else:
            index = np.asarray(index, dtype=np.int64).reshape(-1)
            if len(index) and (index.min() < -self.n_objects or index.max() >= self.n_objects):
                raise IndexError(f"object index out of range for a store of {self.n_objects} objects")
            objects = objects.iloc[index]
            sizes = objects["row_size"].to_numpy()
            starts = objects["offset"].to_numpy()
            pos = positions(starts, sizes)
            # Scattered reads decode only the chunks they touch; a large share is quicker read whole.
            read = (lambda a: a[:][pos]) if len(pos) > self.n_obs // 8 else (lambda a: a.oindex[pos])
            obs = {n: read(self._group[n]) for n in names}
        return Ragged(time=obs["time"], value=obs[names[1]], error=obs[names[2]], band=obs["band"],
                      row_size=objects["row_size"].to_numpy(), label=objects["label"].to_numpy(),
                      object_id=objects["object_id"].to_numpy(dtype=str), bands=list(self.bands),
                      class_names=list(self.class_names))

    def load_range(self, start: int, stop: int) -> Ragged:
        """Objects ``start`` to ``stop`` (exclusive) as ragged arrays: one contiguous slice of each obs variable,
        so only the chunks holding them are read and decoded."""
        objects = self.objects.iloc[start:stop]
        sizes = objects["row_size"].to_numpy()
        lo = int(objects["offset"].iloc[0]) if len(objects) else 0
        hi = lo + int(sizes.sum())
        names = ("time", self.quantity, f"{self.quantity}_err", "band")
        obs = {n: self._group[n][lo:hi] for n in names}
        return Ragged(time=obs["time"], value=obs[names[1]], error=obs[names[2]], band=obs["band"], row_size=sizes,
                      label=objects["label"].to_numpy(), object_id=objects["object_id"].to_numpy(dtype=str),
                      bands=list(self.bands), class_names=list(self.class_names))

    def lightcurve(self, i: int) -> dict:
        """One object's observations, read without loading the rest of the store."""
        row = self.objects.iloc[i]
        start, stop = int(row["offset"]), int(row["offset"] + row["row_size"])
        names = {"time": "time", "value": self.quantity, "error": f"{self.quantity}_err", "band": "band"}
        return {"object_id": row["object_id"], "label": int(row["label"]),
                **{key: self._read(name, start, stop) for key, name in names.items()}}

    def _read(self, name: str, start: int, stop: int) -> np.ndarray:
        """A slice of an obs variable. Whole chunks are decoded anyway, so the last chunk-aligned block read is
        kept: walking through objects in order decodes each chunk once."""
        lo, hi, block = self._blocks.get(name, (0, 0, None))
        if block is None or start < lo or stop > hi:
            chunk = self._group[name].chunks[0]
            lo, hi = start // chunk * chunk, -(-stop // chunk) * chunk
            block = self._group[name][lo:hi]
            self._blocks[name] = (lo, hi, block)
        return block[start - lo:stop - lo].copy()

    def to_xarray(self) -> xr.Dataset:
        """The store as a lazy xarray Dataset (what ``xarray.open_zarr(path)`` gives)."""
        return xr.open_zarr(self.path)


def _codes(values: pd.Series, names, field: str, where: str) -> np.ndarray:
    """Positions of ``values`` in ``names``; every value must be there."""
    codes = codes_in(values, names)
    if (codes < 0).any():
        unknown = pd.unique(values[codes < 0].astype("string").fillna("<missing>"))[:5]
        raise ValueError(f"{field} values not in {where}: {list(unknown)}")
    return codes


def _optional_column(column: pd.Series, name: str) -> np.ndarray:
    if name in OPTIONAL_FLOAT:
        return pd.to_numeric(column, errors="raise").to_numpy(dtype=np.float64, na_value=np.nan)
    return _text(column)


def _text(column: pd.Series) -> np.ndarray:
    """A column as strings, missing values as ""."""
    return column.astype(object).where(column.notna(), "").astype(str).to_numpy(dtype=object)


def _check_chunking(chunk: int, shard: int) -> None:
    if chunk < 1 or shard < chunk or shard % chunk:
        raise ValueError(f"shard_obs ({shard}) must be a positive multiple of chunk_obs ({chunk})")


def _create_layout(path: Path, *, survey: str, quantity: str, units: str, bands: list[str], class_names: list[str],
                   provenance: dict, optional: list[str], n_obs: int, n_objects: int, chunk: int,
                   shard: int) -> dict[str, zarr.Array]:
    """Create the store's group and its empty arrays with their CF attributes; the one place the layout lives."""
    group = zarr.open_group(path, mode="w", attributes={
        "Conventions": "CF-1.11", "featureType": "timeSeries", "survey": survey, "bands": list(bands),
        "class_names": list(class_names), "quantity": quantity, "units": units,
        "provenance": json.dumps(provenance, sort_keys=True, default=str)})
    meaning = {"mag": "magnitude", "flux": "flux"}[quantity]
    variables = {
        "time": ("obs", np.float64, {"units": "d", "standard_name": "time", "long_name": "Modified Julian Date",
                                     "axis": "T"}),
        quantity: ("obs", np.float32, {"units": units, "long_name": meaning, "coordinates": "time",
                                       "ancillary_variables": f"{quantity}_err"}),
        f"{quantity}_err": ("obs", np.float32, {"units": units, "long_name": f"{meaning} uncertainty (1 sigma)",
                                                "coordinates": "time"}),
        "band": ("obs", np.int8, {"long_name": "photometric band", "coordinates": "time",
                                  "flag_values": list(range(len(bands))), "flag_meanings": _meanings(bands)}),
        "object_id": ("object", str, {"cf_role": "timeseries_id", "long_name": "object identifier"}),
        "row_size": ("object", np.int64, {"sample_dimension": "obs", "long_name": "number of observations"}),
        "offset": ("object", np.int64, {"long_name": "index of the object's first observation along obs"}),
        "label": ("object", np.int64, {"long_name": "class code, -1 unknown",
                                       "flag_values": list(range(-1, len(class_names))),
                                       "flag_meanings": _meanings(["unknown", *class_names])}),
    }
    variables.update({c: ("object", np.float64, OPTIONAL_FLOAT[c]) for c in optional if c in OPTIONAL_FLOAT})
    variables.update({c: ("object", str, OPTIONAL_STR[c]) for c in optional if c in OPTIONAL_STR})
    sizes = {"obs": n_obs, "object": n_objects}
    return {name: _create_array(group, name, dim, sizes[dim], dtype, attrs, chunk, shard)
            for name, (dim, dtype, attrs) in variables.items()}


def _create_array(group: zarr.Group, name: str, dim: str, size: int, dtype, attrs: dict, chunk: int,
                  shard: int) -> zarr.Array:
    compressors = "auto" if dtype is str else COMPRESSOR
    return group.create_array(name, shape=(size,), dtype=dtype, chunks=(chunk,), shards=(shard,),
                              compressors=compressors, dimension_names=[dim], attributes=attrs)


def _meanings(names: list[str]) -> str:
    """CF flag_meanings: blank-separated words, so blanks inside a name become underscores."""
    return " ".join(str(n).replace(" ", "_") for n in names)


def _write_table(path: Path, name: str, table: pd.DataFrame, chunk: int, shard: int) -> None:
    """A DataFrame as a group of 1-D arrays along dimension ``row``: numbers and booleans as they are, the rest
    as strings (missing as "")."""
    group = zarr.open_group(path / name, mode="w", attributes={"columns": [str(c) for c in table.columns]})
    for c in table.columns:
        col = table[c]
        if pd.api.types.is_bool_dtype(col) and not col.isna().any():
            values = col.to_numpy(dtype=bool)
        elif pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col):
            values = col.to_numpy(dtype=np.float64 if col.isna().any() else None, na_value=np.nan)
        else:
            values = _text(col)
        dtype = str if values.dtype == object else values.dtype
        _create_array(group, str(c), "row", len(values), dtype, {}, chunk, shard)[:] = values


def _read_column(array: zarr.Array) -> np.ndarray:
    values = array[:]
    return values.astype(object) if values.dtype.kind == "T" else values


def consolidate(path: Path) -> None:
    """Gather the metadata into the root zarr.json, so opening a store is one read."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Consolidated metadata", category=UserWarning)
        zarr.consolidate_metadata(path)


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Build a store (or any folder) in a temporary folder beside ``path``; move it into place only on success.

    Temporary folders of ``path`` left by a job killed before it finished (kill -9, a node lost) are removed first:
    Snakemake never runs two jobs for one output, so no other writer can own them."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    for stale in [*path.parent.glob(f".{glob.escape(path.name)}.tmp-*"),
                  *path.parent.glob(f".{glob.escape(path.name)}.old-*")]:
        log.info("removing %s, left by a job that did not finish", stale)
        shutil.rmtree(stale, ignore_errors=True)
    tmp = path.with_name(f".{path.name}.tmp-{uuid.uuid4().hex[:8]}")
    try:
        yield tmp
        if path.exists():
            old = path.with_name(f".{path.name}.old-{uuid.uuid4().hex[:8]}")
            path.rename(old)
            try:
                tmp.rename(path)
            except OSError:
                old.rename(path)
                raise
            shutil.rmtree(old)
        else:
            tmp.rename(path)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)


class _Appender:
    """Fills a 1-D array front to back from pieces of any size, writing whole shards so each shard file is
    written once."""

    def __init__(self, array: zarr.Array):
        self.array = array
        self.block = (array.shards or array.chunks)[0]
        self.pieces: list[np.ndarray] = []
        self.buffered = 0
        self.written = 0

    def append(self, values: np.ndarray) -> None:
        self.pieces.append(values)
        self.buffered += len(values)
        if self.buffered >= self.block:
            data = np.concatenate(self.pieces)
            n = len(data) - len(data) % self.block
            self._write(data[:n])
            self.pieces, self.buffered = [data[n:]], len(data) - n

    def close(self) -> None:
        if self.buffered:
            self._write(np.concatenate(self.pieces))
        if self.written != self.array.shape[0]:
            raise RuntimeError(f"wrote {self.written} of {self.array.shape[0]} values of {self.array.path}")

    def _write(self, data: np.ndarray) -> None:
        self.array[self.written:self.written + len(data)] = data
        self.written += len(data)


def build_store(name: str, shard_stores: list, shard_qcs: list, out_store: str | Path, out_qc: str | Path,
                out_summary: str | Path) -> None:
    """The store rule: shard stores merged into data set ``name``'s store (their provenance, with every shard's
    inputs); their QC tables joined, and a summary of what was dropped. No object left (empty or header-only
    input, everything cleaned away), or one object read from files of two shards, is an error naming them."""
    qc = pd.concat([pd.read_parquet(q) for q in shard_qcs], ignore_index=True)
    inputs = [sorted(LightCurveStore(s).attrs.get("provenance", {}).get("inputs", {})) for s in shard_stores]
    where = f"data set {name!r} ({', '.join(f for files in inputs for f in files[:1]) or 'no input files'})"
    if not (len(qc) and qc["kept"].astype(bool).any()):
        reasons = qc["reason"].astype(str).str.split(":").str[0].value_counts().head(3) if len(qc) else {}
        raise InputError(where, f"no objects left to store: {len(qc)} read"
                         + "".join(f"; {n} dropped as {r!r}" for r, n in dict(reasons).items())
                         + ("; are the files empty, or only a header?" if not len(qc) else
                            "; see the cleaning settings datasets.<name>.clean"))
    try:
        merge_stores(list(shard_stores), out_store)
    except DuplicateObjectError as err:
        files = [inputs[[Path(s) for s in shard_stores].index(Path(p))][:5] for p in err.stores]
        raise InputError(where, f"object {err.object_id!r} is read from files of two shards ({files[0]} and "
                         f"{files[1]}): an object's observations must come from one input file") from None
    qc.to_parquet(out_qc, index=False)
    store = LightCurveStore(out_store)
    labels = store.objects["label"].to_numpy()
    summary = {
        "dataset": name,
        "objects_in": len(qc),
        "objects_kept": store.n_objects,
        "observations_in": int(qc["n_input"].sum()),
        "observations_kept": store.n_obs,
        "observations_dropped": {c.removeprefix("n_"): int(qc[c].sum()) for c in qc.columns
                                 if c.startswith("n_") and c not in ("n_input", "n_kept")},
        "objects_dropped_by_reason": {k: int(v) for k, v in qc.loc[~qc["kept"].astype(bool), "reason"]
                                      .str.split(":").str[0].value_counts().items()},
        "objects_per_class": {c: int(np.sum(labels == i)) for i, c in enumerate(store.class_names)},
        "unlabelled": int(np.sum(labels < 0)),
    }
    Path(out_summary).write_text(json.dumps(summary, indent=2))
    log.info("store %s: %d objects (%s)", out_store, store.n_objects, summary["objects_per_class"])


class StoreBlocks:
    """A store's objects in blocks for reading it in bounded memory: runs of consecutive objects starting within
    one stretch of ``block_obs`` observations (a whole number of chunks, about a ``BUFFER_BLOCKS``-th of
    ``memory_mb``), so a block is one contiguous slice of every obs variable; ``capacity`` blocks fit in
    ``memory_mb``. Opens the store once per process (pickled into a worker process, it opens it there).

    With ``parts`` > 1, only the objects of share ``part`` (``span``: the part-th of ``parts`` equal runs of the
    store's objects), so that as many jobs can each take one share of a large store."""

    def __init__(self, path: str | Path, memory_mb: int, part: int = 0, parts: int = 1):
        if not 0 <= part < parts:
            raise ValueError(f"part {part} of {parts}: a part is from 0 to parts - 1")
        self.path = Path(path)
        self._store: LightCurveStore | None = None
        objects = self.store.objects
        chunk = self.store._group["time"].chunks[0]
        budget = max(memory_mb * 2**20 // BYTES_PER_OBS, 1)
        self.block_obs = max(chunk, budget // BUFFER_BLOCKS // chunk * chunk)
        self.capacity = max(budget // self.block_obs, 1)
        lo, hi = len(objects) * part // parts, len(objects) * (part + 1) // parts
        self.span = (lo, hi)
        block = objects["offset"].to_numpy()[lo:hi] // self.block_obs
        self.starts = lo + np.append(np.flatnonzero(np.diff(block, prepend=-1)), len(block))

    @property
    def store(self) -> LightCurveStore:
        if self._store is None:
            self._store = LightCurveStore(self.path)
        return self._store

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_store": None}  # a worker process opens the store itself

    def __len__(self) -> int:
        return len(self.starts) - 1

    def bounds(self, k: int) -> tuple[int, int]:
        return int(self.starts[k]), int(self.starts[k + 1])

    def fits(self, index: np.ndarray) -> bool:
        """Whether the blocks holding objects ``index`` all fit the buffer (then they are read once and kept)."""
        return len(np.unique(self.block_of(index))) <= self.capacity

    def block_of(self, index: np.ndarray) -> np.ndarray:
        return np.searchsorted(self.starts, index, side="right") - 1

    def read(self, k: int) -> Ragged:
        return self.store.load_range(*self.bounds(k))
