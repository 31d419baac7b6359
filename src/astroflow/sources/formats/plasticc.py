"""PLAsTiCC light curves: CSV of ``object_id, mjd, passband, flux, flux_err, detected`` (``detected_bool`` in the
unblinded test set) with a metadata CSV per set (``object_id, ra, decl, ..., hostgal_photoz, ..., target``, or
``true_target`` in the unblinded test set).

A unit is a light-curve file and its metadata file: in a folder, each light-curve file is paired with the
metadata file (name containing ``metadata``) whose name shares the longest start with its own, or with the file
given by option ``metadata``. Passbands 0-5 are u, g, r, i, z, y; other codes are passed on as unknown bands.
Fluxes are in FLUXCAL units (AB zero point 27.5). Target codes become the class names of the PLAsTiCC data note
(Kessler et al. 2019, arXiv:1810.00001); all metadata columns go to the objects table, with ``decl`` as ``dec`` and
``hostgal_photoz`` as ``redshift``. ``detected`` is kept in ``obs``. Light-curve objects without metadata stay
unlabelled (a warning gives the count).
"""
from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd

from astroflow.catalogue import Catalogue
from astroflow.errors import InputError
from astroflow.sources.formats import common

log = logging.getLogger(__name__)

PASSBANDS = {0: "u", 1: "g", 2: "r", 3: "i", 4: "z", 5: "y"}
BANDS = list(PASSBANDS.values())
TARGETS = {
    90: "SNIa", 67: "SNIa-91bg", 52: "SNIax", 42: "SNII", 62: "SNIbc", 95: "SLSN-I", 15: "TDE", 64: "KN",
    88: "AGN", 92: "RRL", 65: "M-dwarf", 16: "EB", 53: "Mira", 6: "muLens-Single", 991: "muLens-Binary",
    992: "ILOT", 993: "CaRT", 994: "PISN", 995: "muLens-String",
}
LIGHT_CURVE = ("object_id", "mjd", "passband", "flux", "flux_err")
PATTERNS = ("*.csv", "*.csv.gz")


def discover(root: Path, /, **options) -> list[tuple[Path, Path | None]]:
    common.check_options(options, ("metadata",), "plasticc")
    root = Path(root)
    files = common.list_files(root.parent if root.is_file() else root, PATTERNS)
    metadata = [p for p in files if "metadata" in p.name]
    light_curves = [root] if root.is_file() else [p for p in files if p not in metadata]
    if options.get("metadata"):
        return [(p, Path(options["metadata"])) for p in light_curves]
    return [(p, _pair(p, metadata)) for p in light_curves]


def _pair(light_curve: Path, metadata: list[Path]) -> Path | None:
    if not metadata:
        return None
    return max(metadata, key=lambda m: len(os.path.commonprefix([m.name, light_curve.name])))


def read(unit: tuple[str | Path, str | Path | None] | str | Path, /, **options) -> Catalogue:
    lc_path, meta_path, flag, numeric = _plan(unit, options)
    table = common.read_table(lc_path, ["object_id", *numeric], numeric=numeric)
    metadata = _metadata(Path(meta_path)) if meta_path else None
    return _catalogue(table, lc_path, flag, metadata, common.sources(lc_path, meta_path))


def read_chunks(unit: tuple[str | Path, str | Path | None] | str | Path, /, rows: int = 1_000_000,
                **options) -> Iterator[Catalogue]:
    """The catalogue in pieces of whole objects of about ``rows`` observations, streamed from the light-curve file
    (whose objects' rows must be together, as PLAsTiCC's are); the metadata table is read once. The first piece
    carries the files' checksums."""
    lc_path, meta_path, flag, numeric = _plan(unit, options)
    metadata = _metadata(Path(meta_path)) if meta_path else None
    checksums = common.sources(lc_path, meta_path)
    tables = common.whole_objects(common.batches(lc_path, "csv", ["object_id", *numeric], numeric, rows),
                                  "object_id", lc_path)
    for table in tables:
        yield _catalogue(table, lc_path, flag, metadata, checksums)
        checksums = {}


def _plan(unit, options: dict) -> tuple[Path, Path | None, str | None, list[str]]:
    """The light-curve and metadata files of a unit, the detection flag's column and the numeric columns."""
    common.check_options(options, ("metadata",), "plasticc")
    lc_path, meta_path = (unit, options.get("metadata")) if isinstance(unit, (str, Path)) else unit
    lc_path = Path(lc_path)
    present = common.header(lc_path)
    flag = next((c for c in ("detected", "detected_bool") if c in present), None)
    common.require_columns(lc_path, present, LIGHT_CURVE)
    return lc_path, meta_path, flag, [c for c in (*LIGHT_CURVE[1:], flag) if c]


def _catalogue(table, lc_path: Path, flag: str | None, metadata: pd.DataFrame | None, checksums: dict) -> Catalogue:
    ids = table.column("object_id")
    common.check_ids(ids, lc_path, "object_id")
    extra = {"detected": table.column(flag).to_numpy() > 0} if flag else {}
    objects = None
    if metadata is not None:
        present = pd.unique(ids.to_numpy(zero_copy_only=False))
        objects = metadata[metadata["object_id"].isin(present)]
        missing = len(present) - len(objects)
        if missing:
            log.warning("%s: %d of %d objects have no metadata row and stay unlabelled", lc_path, missing,
                        len(present))
    return common.catalogue(ids, table.column("mjd").to_numpy(),
                            common.band_names(table.column("passband").to_numpy(), PASSBANDS),
                            table.column("flux").to_numpy(), table.column("flux_err").to_numpy(), objects=objects,
                            extra=extra, quantity="flux", unit=common.FLUXCAL_UNIT, survey="PLAsTiCC", bands=BANDS,
                            sources=checksums)


def _metadata(path: Path) -> pd.DataFrame:
    """The metadata rows, with their class names."""
    present = common.header(path)
    target = next((c for c in ("target", "true_target") if c in present), None)
    common.require_columns(path, present, ["object_id"])
    numeric = [c for c in present if c != "object_id"]
    meta = common.read_table(path, ["object_id", *numeric], numeric=numeric).to_pandas()
    meta = meta.rename(columns={"decl": "dec", "hostgal_photoz": "redshift"})
    if meta["object_id"].duplicated().any():
        raise InputError(path, f"object {meta.loc[meta['object_id'].duplicated(), 'object_id'].iloc[0]!r} "
                               "appears more than once")
    if target:
        codes = meta[target].to_numpy()
        unknown = ~np.isin(codes, list(TARGETS)) & ~np.isnan(codes)
        if unknown.any():
            i = int(np.flatnonzero(unknown)[0])
            raise InputError(path, f"object {meta['object_id'].iloc[i]!r}: unknown target code {codes[i]:g}",
                             field=target)
        meta["label"] = pd.array([TARGETS.get(c) for c in codes], dtype="string")
    return meta
