"""Tables written as their file's suffix says (Parquet, or CSV), in pieces so the whole never needs to be in memory;
shared by prediction and the stellar stage without either importing the other's stack."""
from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq


def write_table(table: pd.DataFrame, out: str | Path) -> None:
    write_tables([table], out)


def write_tables(tables, out: str | Path, empty=None) -> None:
    """Tables of the same columns written one after another to ``out`` (Parquet, or CSV by suffix), so the whole
    never needs to be in memory; ``empty()`` gives the table to write when there is none."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    writer, written = None, False
    try:
        for table in tables:
            if out.suffix == ".csv":
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
