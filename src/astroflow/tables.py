"""Tables written as their file's suffix says (Parquet, or CSV), in pieces so the whole never needs to be in memory;
shared by prediction and the stellar stage without either importing the other's stack."""
from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from astroflow.errors import ConfigError

SUFFIXES = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}


def table_format(out: str | Path, key: str = "--out") -> str:
    """``csv`` or ``parquet``, as the suffix of ``out`` names it (any case); another suffix is an error naming
    ``key``, before any work is done, rather than a Parquet file under a name that says otherwise."""
    kind = SUFFIXES.get(Path(out).suffix.lower())
    if kind is None:
        raise ConfigError(key, f"{out}: the suffix says which table to write: one of {', '.join(SUFFIXES)}")
    return kind


def write_table(table: pd.DataFrame, out: str | Path) -> None:
    write_tables([table], out)


def write_tables(tables, out: str | Path, empty=None) -> None:
    """Tables of the same columns written one after another to ``out`` (Parquet, or CSV by suffix), so the whole
    never needs to be in memory; ``empty()`` gives the table to write when there is none."""
    out = Path(out)
    csv = table_format(out) == "csv"
    out.parent.mkdir(parents=True, exist_ok=True)
    writer, written = None, False
    try:
        for table in tables:
            if csv:
                table.to_csv(out, index=False, mode="a" if written else "w", header=not written)
            else:
                arrow = pa.Table.from_pandas(table, preserve_index=False)
                writer = writer or pq.ParquetWriter(out, arrow.schema)
                writer.write_table(arrow.cast(writer.schema))
            written = True
        if not written and empty is not None:
            write_table(empty(), out)
    finally:
        if writer is not None:
            writer.close()


def join_parquet(parts: list[str | Path], out: str | Path) -> None:
    """Parquet tables of one schema (its metadata included), as jobs that each took a share of a store write them,
    written one after another to ``out``, a row group at a time."""
    schemas = [pq.read_schema(p) for p in parts]
    for path, schema in zip(parts, schemas):
        if not schema.equals(schemas[0], check_metadata=True):
            raise ValueError(f"{path} has another schema than {parts[0]}: parts of one table must share it")
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    with pq.ParquetWriter(out, schemas[0]) as writer:
        for path in parts:
            source = pq.ParquetFile(path)
            for k in range(source.num_row_groups):
                writer.write_table(source.read_row_group(k))


def without_empty_columns(table: pd.DataFrame) -> pd.DataFrame:
    """``table`` without the columns that hold nothing in any row (missing values or empty text), e.g. labels of a
    catalogue that has none, or notes when every object was classified."""
    return table.drop(columns=[c for c in table.columns if table[c].astype("string").fillna("").eq("").all()])
