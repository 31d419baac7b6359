"""ZTF alert detections as the ALeRCE broker serves them: one CSV of many objects, columns ``oid`` (or
``objectId``), ``fid`` (1 = g, 2 = r, 3 = i), ``mjd``, the magnitude and its error.

Options: ``magnitude`` is ``magpsf`` (default: the PSF magnitude of the difference image, present for every
detection) or ``magpsf_corr`` (the apparent magnitude, reference plus difference; empty where ALeRCE could not
correct, and those NaNs are left for the cleaner to record); the error is ``sigmapsf`` or ``sigmapsf_corr`` to
match. ``pattern`` picks the files in a folder (default ``*detections*.csv``).

Non-detections (``diffmaglim`` upper limits) are not photometry and are not read: files named
``*non_detections*`` are skipped by ``discover``. The flag ``isdiffpos`` (the difference flux is positive: 1 or
t) is kept in ``obs`` as a boolean where present, since ``magpsf`` is the magnitude of the absolute difference flux.
Mean ``ra``/``dec`` of the detections go to the objects table. Fids other than 1-3 are passed on as unknown bands.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from astroflow.catalogue import Catalogue
from astroflow.errors import ConfigError
from astroflow.sources.formats import common

FIDS = {1: "g", 2: "r", 3: "i"}
BANDS = ["g", "r", "i"]
ERRORS = {"magpsf": "sigmapsf", "magpsf_corr": "sigmapsf_corr"}
ID_COLUMNS = ("oid", "objectId")
OPTIONS = ("magnitude", "pattern")
POSITIVE = ("1", "1.0", "+1", "t", "true")


def discover(root: Path, /, **options) -> list[Path]:
    common.check_options(options, OPTIONS, "alerce")
    patterns = [options["pattern"]] if options.get("pattern") else ["*detections*.csv", "*detections*.csv.gz"]
    return [p for p in common.list_files(root, patterns) if "non_detections" not in p.name or Path(root).is_file()]


def read(unit: str | Path, /, **options) -> Catalogue:
    common.check_options(options, OPTIONS, "alerce")
    magnitude = options.get("magnitude", "magpsf")
    if magnitude not in ERRORS:
        raise ConfigError("options.magnitude", f"must be one of {sorted(ERRORS)}, not {magnitude!r}")
    path = Path(unit)
    present = common.header(path)
    id_column = next((c for c in ID_COLUMNS if c in present), ID_COLUMNS[0])
    numeric = ["fid", "mjd", magnitude, ERRORS[magnitude]]
    optional = [c for c in ("ra", "dec", "isdiffpos") if c in present]
    common.require_columns(path, present, [id_column, *numeric])
    table = common.read_table(path, [id_column, *numeric, *optional],
                              numeric=[*numeric, *(c for c in optional if c != "isdiffpos")])
    common.check_ids(table.column(id_column), path, id_column)
    ids = table.column(id_column).to_numpy(zero_copy_only=False)
    extra = {}
    if "isdiffpos" in optional:
        flag = pd.Series(table.column("isdiffpos").to_numpy(zero_copy_only=False), dtype="str").str.lower()
        extra["isdiffpos"] = flag.isin(POSITIVE).to_numpy()
    objects = None
    if "ra" in optional and "dec" in optional:
        coords = pd.DataFrame({"object_id": ids, "ra": table.column("ra").to_numpy(),
                               "dec": table.column("dec").to_numpy()})
        objects = coords.groupby("object_id", sort=False).mean().reset_index()
    return common.catalogue(ids, table.column("mjd").to_numpy(), common.band_names(table.column("fid").to_numpy(),
                            FIDS), table.column(magnitude).to_numpy(), table.column(ERRORS[magnitude]).to_numpy(),
                            objects=objects, extra=extra, quantity="mag", unit="mag", survey="ZTF", bands=BANDS,
                            sources=common.sources(path))
