"""Labels and fixed splits for "bring your own catalogue": a table of object id -> raw class, mapped to the task's
classes by glob patterns, and the fixed test objects: the table's own split column, or a list of test ids.

Ids are matched after normalising text: surrounding space is ignored and integer-looking ids compare as integers
(``"0042"``, ``"42"``, ``"42.0"`` and ``42`` are the same object), so a table written by another tool still joins.
"""
from __future__ import annotations

import fnmatch
import logging
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from astroflow.catalogue import Catalogue
from astroflow.errors import InputError
from astroflow.sources.formats import common

log = logging.getLogger(__name__)
TRAINING = ("train", "training", "val", "valid", "validation", "pool", "")  # split values that are not test

def normalise_ids(ids) -> pd.Series:
    """Ids as comparable text: stripped, integers without leading zeros or a trailing ``.0``."""
    text = pd.Series(ids, dtype="str").str.strip().str.replace(r"^\+(?=\d)", "", regex=True)
    return text.str.replace(r"^(-?)0*(\d+?)(?:\.0*)?$", r"\1\2", regex=True)


def read_columns(path: str | Path, id_column: str, column: str) -> tuple[pd.Series, pd.Series]:
    """Normalised ids and the text of ``column`` (stripped) of a CSV, TSV or Parquet table."""
    path = Path(path)
    if path.suffix in (".parquet", ".pq"):
        try:
            table = pq.read_table(path)
        except (OSError, ValueError) as err:
            raise InputError(path, f"not a readable Parquet file: {err}") from None
        common.require_columns(path, table.column_names, [id_column, column])
    else:
        table = common.read_table(path, [id_column, column], delimiter="\t" if path.suffix == ".tsv" else ",")
    ids, values = table.column(id_column).to_pandas(), table.column(column).to_pandas()
    return normalise_ids(ids), pd.Series(values, dtype="string").str.strip()


def load_labels(path: str | Path, id_column: str, label_column: str) -> pd.Series:
    """Raw class per object id (normalised) from a CSV or Parquet table; empty classes are dropped as unknown, and
    an id listed twice with different classes is an error."""
    ids, raw = read_columns(path, id_column, label_column)
    labels = pd.DataFrame({"object_id": ids, "raw": raw})
    labels = labels[labels["raw"].notna() & (labels["raw"] != "")].drop_duplicates()
    clash = labels["object_id"].duplicated(keep=False)
    if clash.any():
        oid = labels.loc[clash, "object_id"].iloc[0]
        found = sorted(labels.loc[labels["object_id"] == oid, "raw"])
        raise InputError(path, f"object {oid!r} has more than one class: {found}", field=label_column)
    return labels.set_index("object_id")["raw"]


def map_classes(raw: pd.Series, classes: dict[str, list[str]] | None = None, default: str | None = None) -> pd.Series:
    """Task class of each raw class: the first class (in the given order) with a matching glob pattern (case
    sensitive), else ``default`` (None leaves it unknown). Without ``classes`` the raw classes are the classes."""
    if not classes:
        return raw.astype("string")
    table = {}
    for name in pd.unique(raw.dropna()):
        table[name] = next((c for c, patterns in classes.items()
                            if any(fnmatch.fnmatchcase(name, p) for p in patterns)), default)
    return raw.map(table).astype("string")


def join_labels(catalogue: Catalogue, labels: pd.Series) -> Catalogue:
    """The catalogue with ``objects.label`` from ``labels`` (normalised id -> class); objects absent from it become
    unknown, and their number is logged."""
    keys = normalise_ids(catalogue.objects["object_id"])
    label = pd.Series(keys.map(labels).to_numpy(), index=catalogue.objects.index, dtype="string")
    unlabelled = int(label.isna().sum())
    if unlabelled:
        log.warning("%d of %d objects have no label and stay unknown", unlabelled, len(label))
    return replace(catalogue, objects=catalogue.objects.assign(label=label))


def apply_labels(catalogue: Catalogue, path: str | Path, id_column: str, label_column: str,
                 classes: dict[str, list[str]] | None = None, default: str | None = None,
                 split_column: str | None = None) -> Catalogue:
    """Join the labels table at ``path`` onto the catalogue, mapping raw classes to ``classes`` (see map_classes);
    the table replaces any labels the reader found. With ``split_column``, the table's own split names the fixed
    test objects (see load_split)."""
    raw = load_labels(path, id_column, label_column)
    keys = normalise_ids(catalogue.objects["object_id"])
    if len(keys) and not keys.isin(raw.index).any():
        raise InputError(path, f"none of its {len(raw)} ids matches one of the {len(keys)} objects read (its ids: "
                         f"{', '.join(map(repr, raw.index[:3]))}; the objects': {', '.join(map(repr, keys[:3]))}): "
                         "is id_column the right column, and are the ids written alike?", field=id_column)
    labelled = join_labels(catalogue, map_classes(raw, classes, default))
    return mark_test(labelled, load_split(path, id_column, split_column)) if split_column else labelled


def load_split(path: str | Path, id_column: str, split_column: str) -> set[str]:
    """The normalised ids that a table's split column marks ``test`` (any case); ``train``, ``training``,
    ``val``, ``valid``, ``validation``, ``pool`` and empty leave an object to training. Another value is an error
    naming it: a misspelt ``tset`` must not move test objects into training."""
    ids, split = read_columns(path, id_column, split_column)
    split = split.fillna("").str.lower()
    bad = ~split.isin(["test", *TRAINING])
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise InputError(path, f"split {split.iloc[row]!r} of object {ids.iloc[row]!r} is neither 'test' nor one of "
                         f"{[s for s in TRAINING if s]}", field=split_column)
    return set(ids[split == "test"])


def read_ids(path: str | Path) -> set[str]:
    """Normalised ids listed one per line (blank lines and ``#`` comments ignored)."""
    try:
        with common.open_text(path) as f:
            lines = [line.split("#", 1)[0].strip() for line in f]
    except FileNotFoundError:
        raise InputError(path, "no such file") from None
    except (OSError, UnicodeDecodeError) as err:
        raise InputError(path, f"cannot read: {err}") from None
    return set(normalise_ids([line for line in lines if line]))


def apply_split(catalogue: Catalogue, test_ids: str | Path) -> Catalogue:
    """Set ``objects.split`` to "test" for the ids listed in ``test_ids`` and "train" for the others."""
    return mark_test(catalogue, read_ids(test_ids))


def mark_test(catalogue: Catalogue, test_ids: set[str]) -> Catalogue:
    """Set ``objects.split`` to "test" for the (normalised) ``test_ids`` and "train" for the others."""
    test = normalise_ids(catalogue.objects["object_id"]).isin(test_ids).to_numpy()
    log.info("%d of %d objects are in the test split", int(test.sum()), len(test))
    return replace(catalogue, objects=catalogue.objects.assign(split=np.where(test, "test", "train")))
