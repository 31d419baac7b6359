"""The canonical in-memory form of light curves that every reader returns and the cleaner and store consume.

One row per observation in ``obs`` and one row per object in ``objects``: a long table is what
survey files are closest to, and it concatenates cheaply across files and shards.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import astropy.units as u
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

OBS_COLUMNS = ("object_id", "time", "band", "value", "error")
QUANTITIES = {"mag": "mag", "flux": None}  # flux units vary by survey (nJy, FLUXCAL, e-/s)
RUN_SAMPLE = 4096  # values factorize looks at first, to tell whether equal ones come in runs


@dataclass
class Catalogue:
    """Light curves of many objects in long form.

    obs: object_id (str), time (float64, MJD days), band (str name), value and error (float64,
        in ``unit``; ``quantity`` says whether they are magnitudes or fluxes).
    objects: object_id (str, unique) and label (str, missing = unknown); optional ra, dec (deg),
        redshift, split ("train"/"test"), and any per-object metadata a reader found.
    sources: file path -> sha256 of every input file, for provenance.
    """

    obs: pd.DataFrame
    objects: pd.DataFrame
    quantity: str = "mag"
    unit: str = "mag"
    survey: str = ""
    bands: list[str] = field(default_factory=list)
    sources: dict[str, str] = field(default_factory=dict)

    def __post_init__(self):
        if self.quantity not in QUANTITIES:
            raise ValueError(f"quantity must be one of {sorted(QUANTITIES)}, not {self.quantity!r}")
        missing = [c for c in OBS_COLUMNS if c not in self.obs.columns]
        if missing:
            raise ValueError(f"obs table lacks columns {missing}")
        if "object_id" not in self.objects.columns:
            raise ValueError("objects table lacks column 'object_id'")
        if "label" not in self.objects.columns:
            self.objects = self.objects.assign(label=pd.Series(pd.NA, index=self.objects.index, dtype="string"))
        if not self.bands:
            self.bands = sorted(pd.unique(self.obs["band"].astype(str)))

    @property
    def n_objects(self) -> int:
        return len(self.objects)

    @property
    def n_obs(self) -> int:
        return len(self.obs)

    def quantity_of(self, column: str) -> u.Quantity:
        """A column of ``obs`` as an astropy Quantity (time in days, value/error in ``unit``)."""
        unit = u.day if column == "time" else u.Unit(self.unit)
        return np.asarray(self.obs[column], dtype=np.float64) * unit

    @classmethod
    def empty(cls, **kwargs) -> Catalogue:
        obs = pd.DataFrame({"object_id": pd.Series(dtype=str), "time": pd.Series(dtype=np.float64),
                            "band": pd.Series(dtype=str), "value": pd.Series(dtype=np.float64),
                            "error": pd.Series(dtype=np.float64)})
        return cls(obs=obs, objects=pd.DataFrame({"object_id": pd.Series(dtype=str)}), **kwargs)


def concat(catalogues: list[Catalogue]) -> Catalogue:
    """Join catalogues of the same survey and quantity (for example one per file of a shard)."""
    if not catalogues:
        raise ValueError("nothing to concatenate")
    first = catalogues[0]
    for c in catalogues[1:]:
        if (c.quantity, c.unit) != (first.quantity, first.unit):
            raise ValueError(f"cannot mix {first.quantity} [{first.unit}] with {c.quantity} [{c.unit}]")
    bands = list(dict.fromkeys(b for c in catalogues for b in c.bands))
    objects = pd.concat([c.objects for c in catalogues], ignore_index=True)
    objects = objects.drop_duplicates("object_id", keep="first").reset_index(drop=True)
    return Catalogue(
        obs=pd.concat([c.obs for c in catalogues], ignore_index=True),
        objects=objects,
        quantity=first.quantity,
        unit=first.unit,
        survey=first.survey,
        bands=bands,
        sources={k: v for c in catalogues for k, v in c.sources.items()},
    )



def factorize(column: pd.Series) -> tuple[np.ndarray, pd.Index]:
    """``pd.factorize`` of a column (codes in order of first appearance, -1 for missing values, and the distinct
    values), hashing only the first value of each run of equal ones when most values repeat the one before (a long
    table's object ids): a comparison of neighbours costs a fraction of a hash."""
    starts = _runs(column)
    if starts is None:
        codes, uniques = pd.factorize(column)
        return codes, pd.Index(uniques)
    codes, uniques = pd.factorize(column.iloc[starts])
    return np.repeat(codes, np.diff(np.r_[starts, len(column)])), pd.Index(uniques)


def _runs(column: pd.Series) -> np.ndarray | None:
    """Where each run of equal values starts, when most values repeat the one before (else None)."""
    sample = min(len(column), RUN_SAMPLE)
    if len(column) < 2 or len(run_starts(pa.array(column.iloc[:sample]))) > sample // 4:
        return None
    starts = run_starts(pa.array(column))  # arrow-backed text: no copy
    return starts if len(starts) <= len(column) // 4 else None


def run_starts(values: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """Where each run of equal values starts (a missing value is a run of its own)."""
    if len(values) < 2:
        return np.arange(len(values))
    differs = pc.fill_null(pc.not_equal(values.slice(1), values.slice(0, len(values) - 1)), True)
    return np.flatnonzero(np.r_[True, differs.to_numpy(zero_copy_only=False)])


def codes_in(column: pd.Series, categories) -> np.ndarray:
    """Position of each entry of ``column`` in ``categories`` (-1 where absent or missing), looking up each
    distinct value, or each run of equal values, once."""
    starts = _runs(column)
    if starts is not None:
        return np.repeat(codes_in(column.iloc[starts], categories), np.diff(np.r_[starts, len(column)]))
    if isinstance(column.array, pd.arrays.ArrowStringArray):  # each value looked up in arrow
        found = pc.index_in(pa.array(column), value_set=pa.array(pd.Index(categories).astype(str), pa.string()))
        return pc.fill_null(found, -1).to_numpy().astype(np.int64)
    codes, uniques = pd.factorize(column)
    lookup = pd.Index(list(categories)).get_indexer(pd.Index(uniques).astype(str))
    return np.append(lookup, -1)[codes]  # factorize gives -1 for missing values: they map to the appended -1
