"""Parsing helpers the format readers share: text tables with errors that name file, line and field; time scales;
object ids from file names; checksums of the files read.

Tables come back as ``pyarrow.Table`` so that a reader stays vectorised from the file to the Catalogue.
"""
from __future__ import annotations

import bz2
import csv
import gzip
import io
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from astroflow.catalogue import Catalogue, factorize
from astroflow.errors import ConfigError, InputError
from astroflow.provenance import sha256_file

# Text that stands for a missing number (pyarrow's defaults, which the fast path uses, plus the diagnosis's own).
NULLS = frozenset(pacsv.ConvertOptions().null_values) | {"", "None", "none", "NULL"}
COMPRESSED = (".gz", ".bz2")
JD_MINUS_MJD = 2400000.5
CSV_ROW_BYTES = 48  # a light-curve CSV row's typical length: sets the streaming reader's block size from a row count
# SNANA's FLUXCAL (also PLAsTiCC's flux): AB magnitude = 27.5 - 2.5 log10(flux), so one unit is 10**(-0.4 * 27.5)
# of the AB zero point (3630.78 Jy).
FLUXCAL_UNIT = "3.630781e-08 Jy"


def check_options(options: dict, known: Iterable[str] | Mapping, fmt: str) -> dict:
    """Refuse reader options the format does not know, naming the first such option; return the options with
    the defaults filled in when ``known`` maps names to defaults."""
    names = set(known)
    for name in options:
        if name not in names:
            raise ConfigError(f"options.{name}", f"format {fmt!r} has no option {name!r}; "
                                                 f"its options are: {', '.join(sorted(names)) or 'none'}")
    return {**known, **options} if isinstance(known, Mapping) else dict(options)


def list_files(root: Path, patterns: Sequence[str]) -> list[Path]:
    """``root`` itself if it is a file, else the files in the folder matching any glob pattern, sorted by name
    (then path, so that the order never depends on the file system)."""
    root = Path(root)
    if root.is_file():
        return [root]
    if not root.is_dir():
        raise InputError(root, "no such file or folder")
    found = {p for pattern in patterns for p in root.glob(pattern) if p.is_file()}
    return sorted(found, key=lambda p: (p.name, str(p)))


def object_id_from(path: str | Path) -> str:
    """An object id from a one-object-per-file name: the name without its extension (and compression suffix)."""
    name = Path(path).name
    for suffix in COMPRESSED:
        name = name.removesuffix(suffix)
    return Path(name).stem


def sources(*paths: str | Path) -> dict[str, str]:
    """File path -> sha256, for ``Catalogue.sources``."""
    return {str(p): sha256_file(p) for p in paths if p is not None}


def to_mjd(time: np.ndarray, time_format: str = "mjd") -> np.ndarray:
    """Times in ``time_format`` as MJD (float64 days).

    Formats: ``mjd``, ``jd``, ``hjd``, ``bjd``, optionally with a subtracted offset as surveys print them, e.g.
    ``hjd-2450000`` (OGLE) or ``mjd-50000``. Heliocentric and barycentric dates keep their reference frame: the
    offset is removed, no light-travel correction (at most 8.3 minutes) is applied.
    """
    m = re.fullmatch(r"(mjd|jd|hjd|bjd)(?:-(\d+(?:\.\d*)?))?", str(time_format).strip().lower().replace(" ", ""))
    if m is None:
        raise ConfigError("time_format", f"{time_format!r} is not one of mjd, jd, hjd, bjd, optionally with an "
                                         "offset such as hjd-2450000")
    shift = float(m.group(2) or 0.0) - (0.0 if m.group(1) == "mjd" else JD_MINUS_MJD)
    return np.asarray(time, dtype=np.float64) + shift


def open_text(path: str | Path) -> io.TextIOBase:
    """A text file, decompressed by its suffix (.gz, .bz2)."""
    path = Path(path)
    if path.suffix == ".gz":
        return gzip.open(path, "rt", encoding="utf-8-sig", newline="")
    if path.suffix == ".bz2":
        return bz2.open(path, "rt", encoding="utf-8-sig", newline="")
    return open(path, encoding="utf-8-sig", newline="")


def header(path: str | Path, delimiter: str = ",") -> list[str]:
    """Column names in the first line of a delimited text file."""
    try:
        with open_text(path) as f:
            first = next(csv.reader(f, delimiter=delimiter), None)
    except (OSError, UnicodeDecodeError, EOFError, csv.Error) as err:
        raise InputError(path, f"cannot read: {err}") from None
    if not first:
        raise InputError(path, "empty file (no header line)")
    return [name.strip() for name in first]


def require_columns(path: str | Path, present: Sequence[str], wanted: Iterable[str]) -> None:
    missing = [c for c in wanted if c not in present]
    if missing:
        raise InputError(path, f"missing column(s) {', '.join(map(repr, missing))}; "
                               f"the file has {', '.join(map(repr, present))}")


def read_table(path: str | Path, columns: Sequence[str], numeric: Sequence[str] = (), *,
               delimiter: str | None = ",", names: Sequence[str] | None = None, comment: str | None = None) -> pa.Table:
    """The named columns of a text table: ``numeric`` ones as float64 (missing -> NaN), the rest as stripped text.

    ``delimiter=None`` reads whitespace-separated columns; ``names`` gives the columns of a file without a header
    line; ``comment`` starts text that is ignored (whitespace tables only). Truncated or over-long rows, text in a
    numeric field and missing columns raise InputError naming the file, line and field; an empty file too.
    """
    if delimiter is None:
        table = _read_whitespace(Path(path), columns, numeric, names, comment)
    else:
        table = _read_delimited(Path(path), columns, numeric, delimiter, names)
    return _tidy(table, columns, numeric)


def _read_delimited(path: Path, columns, numeric, delimiter: str, names) -> pa.Table:
    types = {c: (pa.float64() if c in numeric else pa.string()) for c in columns}
    try:
        return pacsv.read_csv(
            path,
            read_options=pacsv.ReadOptions(column_names=list(names) if names else None),
            parse_options=pacsv.ParseOptions(delimiter=delimiter),
            convert_options=pacsv.ConvertOptions(include_columns=list(columns), column_types=types))
    except FileNotFoundError:
        raise InputError(path, "no such file") from None
    except pa.ArrowKeyError as err:
        require_columns(path, list(names) if names else header(path, delimiter), columns)
        raise InputError(path, f"cannot read columns: {err}") from None
    except (pa.ArrowInvalid, OSError, UnicodeDecodeError) as err:
        if "Empty CSV file" in str(err):
            raise InputError(path, "empty file") from None
        raise _diagnose(path, columns, numeric, delimiter, names, str(err)) from None


def batches(path: str | Path, kind: str, columns: Sequence[str], numeric: Sequence[str] = (), rows: int = 1_000_000,
            delimiter: str = ",") -> Iterator[pa.Table]:
    """The named columns of a CSV or Parquet file (``kind``), about ``rows`` rows at a time, never the whole file:
    pyarrow's streaming CSV reader and Parquet batch iterator. Values as read_table gives them; errors likewise."""
    path = Path(path)
    try:
        if kind == "parquet":
            for batch in pq.ParquetFile(path).iter_batches(batch_size=rows, columns=list(columns)):
                yield pa.Table.from_batches([batch])
            return
        types = {c: (pa.float64() if c in numeric else pa.string()) for c in columns}
        reader = pacsv.open_csv(path, read_options=pacsv.ReadOptions(block_size=max(rows, 1) * CSV_ROW_BYTES),
                                parse_options=pacsv.ParseOptions(delimiter=delimiter),
                                convert_options=pacsv.ConvertOptions(include_columns=list(columns),
                                                                     column_types=types))
        for batch in reader:
            yield _tidy(pa.Table.from_batches([batch]), columns, numeric)
    except FileNotFoundError:
        raise InputError(path, "no such file") from None
    except pa.ArrowKeyError as err:
        raise InputError(path, f"cannot read columns: {err}") from None
    except (pa.ArrowInvalid, OSError, UnicodeDecodeError) as err:
        if kind == "parquet":
            raise InputError(path, f"not a readable Parquet file: {err}") from None
        if "Empty CSV file" in str(err):
            raise InputError(path, "empty file") from None
        raise _diagnose(path, columns, numeric, delimiter, None, str(err)) from None


def whole_objects(tables: Iterable[pa.Table], column: str, path: str | Path) -> Iterator[pa.Table]:
    """``tables`` re-cut so that each holds whole objects: the rows of each table's last object wait for the next.
    A file read this way must keep each object's rows together; an object seen again later is an InputError."""
    held, seen = None, set()
    for table in [*tables, None]:
        if table is None:
            ready, held = held, None
        else:
            table = pa.concat_tables([held, table]) if held is not None else table
            ids = table.column(column)
            if not len(ids):
                held = table
                continue
            same = pc.equal(ids, ids[-1]).to_numpy(zero_copy_only=False)
            cut = len(same) - int(np.argmin(same[::-1])) if not same.all() else 0
            ready, held = table.slice(0, cut), table.slice(cut)
        if ready is None or not len(ready):
            continue
        new = set(pc.unique(ready.column(column)).to_pylist())
        again = new & seen
        if again:
            raise InputError(path, f"the rows of object {min(again)!r} are not all together: reading in chunks "
                                   "needs a file grouped by object (set the data set's chunk_rows to null to read "
                                   "it whole)", field=column)
        seen |= new
        yield ready


def _tidy(table: pa.Table, columns: Sequence[str], numeric: Sequence[str]) -> pa.Table:
    """Text columns stripped, missing numbers as NaN."""
    for c in columns:
        col = table.column(c)
        if c not in numeric:
            table = table.set_column(table.schema.get_field_index(c), c, pc.utf8_trim_whitespace(col))
        elif col.null_count:
            table = table.set_column(table.schema.get_field_index(c), c, pc.fill_null(col, np.nan))
    return table


def _diagnose(path: Path, columns, numeric, delimiter: str, names, message: str) -> InputError:
    """Find the first bad row of a table the fast reader refused, row by row, for an exact line and field."""
    try:
        with open_text(path) as f:
            reader = csv.reader(f, delimiter=delimiter)
            fields = list(names) if names else [c.strip() for c in next(reader, [])]
            index = {c: fields.index(c) for c in numeric if c in fields}
            for row in reader:
                if not row:
                    continue
                if len(row) != len(fields):
                    kind = "truncated row" if len(row) < len(fields) else "too many fields"
                    return InputError(path, f"{kind}: expected {len(fields)} fields, found {len(row)}",
                                      line=reader.line_num)
                for c, i in index.items():
                    text = row[i].strip()
                    if text not in NULLS and not _is_float(text):
                        return InputError(path, f"not a number: {text!r}", line=reader.line_num, field=c)
    except (OSError, UnicodeDecodeError, EOFError, csv.Error) as err:
        return InputError(path, f"cannot read: {err}")
    return InputError(path, f"cannot parse table: {message}")


def _is_float(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _read_whitespace(path: Path, columns, numeric, names, comment) -> pa.Table:
    try:
        with open_text(path) as f:
            lines = f.read().splitlines()
    except FileNotFoundError:
        raise InputError(path, "no such file") from None
    except (OSError, UnicodeDecodeError, EOFError) as err:
        raise InputError(path, f"cannot read: {err}") from None
    rows = [(n, tokens) for n, line in enumerate(lines, start=1)
            if (tokens := (line.split(comment, 1)[0] if comment else line).split())]
    if names:
        fields = list(names)
    elif rows:
        fields, rows = list(rows[0][1]), rows[1:]
    else:
        raise InputError(path, "empty file")
    require_columns(path, fields, columns)
    return token_table(path, rows, fields, numeric).select(list(columns))


def _floats(text: list[str], line_no: list[int], path: Path, field: str) -> np.ndarray:
    cleaned = ["nan" if t in NULLS else t for t in text]
    try:
        return np.array(cleaned, dtype=np.float64)
    except ValueError:
        bad = next(i for i, t in enumerate(cleaned) if not _is_float(t))
        raise InputError(path, f"not a number: {text[bad]!r}", line=line_no[bad], field=field) from None


def as_float(column: pa.ChunkedArray | pa.Array, path: str | Path, field: str) -> np.ndarray:
    """A column read from a typed file (Parquet, ECSV, FITS) as float64, naming the first row that is not a number."""
    if pa.types.is_integer(column.type) or pa.types.is_floating(column.type) or pa.types.is_null(column.type):
        column = column.cast(pa.float64())
        return (pc.fill_null(column, np.nan) if column.null_count else column).to_numpy()
    if not (pa.types.is_string(column.type) or pa.types.is_large_string(column.type)):
        raise InputError(path, f"expected numbers, found a column of type {column.type}", field=field)
    text = pc.utf8_trim_whitespace(column).to_pylist()
    values = np.full(len(text), np.nan)
    for i, t in enumerate(text):
        if t is None or t in NULLS:
            continue
        try:
            values[i] = float(t)
        except ValueError:
            raise InputError(path, f"row {i + 1}: not a number: {t!r}", field=field) from None
    return values


def check_ids(ids: pa.ChunkedArray | pa.Array, path: str | Path, column: str) -> None:
    """Refuse an observation without an object id, naming its data row."""
    empty = pc.or_(pc.is_null(ids), pc.equal(ids, ""))
    if pc.any(empty).as_py():
        row = int(pc.index(empty, True).as_py())
        raise InputError(path, f"data row {row + 1}: empty object id", field=column)


def band_names(values, names: dict) -> np.ndarray:
    """Band codes or passband names as read to the survey's band names; a value not in ``names`` is kept as its
    own text, so the cleaner can record it as an unknown band."""
    values = np.asarray(values)
    uniq, inverse = np.unique(values, return_inverse=True)
    return np.array([names.get(v, _text(v)) for v in uniq.tolist()], dtype=object)[inverse.reshape(-1)]


def _text(value) -> str:
    if isinstance(value, float) and np.isfinite(value) and value == int(value):
        return str(int(value))
    return str(value)


def catalogue(object_id, time, band, value, error, *, objects: pd.DataFrame | None = None,
              extra: dict | None = None, **kwargs) -> Catalogue:
    """A Catalogue from observation columns (arrays, or one object id for a whole file), in the order read.

    The objects table lists every object id in order of first appearance (a file's one object even when it has no
    observations), joined with ``objects`` (per-object metadata with an ``object_id`` column) where given.
    """
    n = len(time)
    obs = pd.DataFrame({
        "object_id": _strings(object_id, n),
        "time": np.asarray(time, dtype=np.float64),
        "band": _strings(band, n),
        "value": np.asarray(value, dtype=np.float64),
        "error": np.asarray(error, dtype=np.float64),
        **(extra or {}),
    })
    ids = pd.DataFrame({"object_id": [object_id] if isinstance(object_id, str) else factorize(obs["object_id"])[1]},
                       dtype="str")
    if objects is not None:
        ids = ids.merge(objects, on="object_id", how="left", validate="one_to_one")
    if "label" not in ids:
        ids["label"] = pd.array([pd.NA] * len(ids), dtype="string")
    return Catalogue(obs=obs, objects=ids, **kwargs)


def _strings(values, n: int) -> pd.Series:
    if isinstance(values, str):
        return pd.Series([values] * n, dtype="str")
    if isinstance(values, (pa.Array, pa.ChunkedArray)):
        return pd.Series(values.to_pandas(), dtype="str")
    return pd.Series(np.asarray(values, dtype=object), dtype="str")


def token_table(path: str | Path, rows: Sequence[tuple[int, Sequence[str]]], fields: Sequence[str],
                numeric: Sequence[str] = ()) -> pa.Table:
    """Rows already split into tokens, each with its line number, as a table of ``fields``, checked as read_table.

    For formats whose rows are picked out of other text first (SNANA ``OBS:`` lines, members of an archive).
    """
    for n, tokens in rows:
        if len(tokens) != len(fields):
            kind = "truncated row" if len(tokens) < len(fields) else "too many fields"
            raise InputError(path, f"{kind}: expected {len(fields)} fields, found {len(tokens)}", line=n)
    line_no = [n for n, _ in rows]
    data = {}
    for i, c in enumerate(fields):
        text = [tokens[i] for _, tokens in rows]
        data[c] = _floats(text, line_no, path, c) if c in numeric else pa.array(text, type=pa.string())
    return pa.table(data)


def unit_paths(unit) -> list[Path]:
    """The files of a unit: one path, or a tuple of paths that belong together."""
    return [Path(unit)] if isinstance(unit, (str, Path)) else [Path(p) for p in unit]
