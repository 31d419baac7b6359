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
    common.check_options(options, ("metadata",), "plasticc")
    lc_path, meta_path = (unit, options.get("metadata")) if isinstance(unit, (str, Path)) else unit
    lc_path = Path(lc_path)
    present = common.header(lc_path)
    flag = next((c for c in ("detected", "detected_bool") if c in present), None)
    numeric = [c for c in (*LIGHT_CURVE[1:], flag) if c]
    common.require_columns(lc_path, present, LIGHT_CURVE)
    table = common.read_table(lc_path, ["object_id", *numeric], numeric=numeric)
    ids = table.column("object_id")
    common.check_ids(ids, lc_path, "object_id")
    extra = {"detected": table.column(flag).to_numpy() > 0} if flag else {}
    objects = _metadata(Path(meta_path), pd.unique(ids.to_numpy(zero_copy_only=False))) if meta_path else None
    return common.catalogue(ids, table.column("mjd").to_numpy(),
                            common.band_names(table.column("passband").to_numpy(), PASSBANDS),
                            table.column("flux").to_numpy(), table.column("flux_err").to_numpy(), objects=objects,
                            extra=extra, quantity="flux", unit=common.FLUXCAL_UNIT, survey="PLAsTiCC", bands=BANDS,
                            sources=common.sources(lc_path, meta_path))


def _metadata(path: Path, ids: np.ndarray) -> pd.DataFrame:
    """Metadata rows of the objects ``ids``, with their class names."""
    present = common.header(path)
    target = next((c for c in ("target", "true_target") if c in present), None)
    common.require_columns(path, present, ["object_id"])
    numeric = [c for c in present if c != "object_id"]
    meta = common.read_table(path, ["object_id", *numeric], numeric=numeric).to_pandas()
    meta = meta[meta["object_id"].isin(ids)].rename(columns={"decl": "dec", "hostgal_photoz": "redshift"})
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
    missing = len(ids) - len(meta)
    if missing:
        log.warning("%s: %d of %d objects have no metadata row and stay unlabelled", path, missing, len(ids))
    return meta
