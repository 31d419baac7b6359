"""SNANA FITS light curves: HEAD/PHOT file pairs, as ELAsTiCC, PLAsTiCC-DDF and DES ship them.

A HEAD table (``*_HEAD.FITS`` or ``*.HEAD.FITS``, optionally ``.gz``) has a row per object: ``SNID``, a type
code (``SNTYPE``), ``RA``, ``DEC`` (or ``DECL``), ``REDSHIFT_FINAL`` and ``PTROBS_MIN``/``PTROBS_MAX``, 1-based
inclusive pointers into the rows of its PHOT partner (the same name with PHOT for HEAD). The PHOT table has
``MJD``, ``BAND`` (or ``FLT``), ``FLUXCAL`` and ``FLUXCALERR``; a row with MJD = -777 ends each light curve.
Fluxes are in FLUXCAL units (zero point 27.5, see ``snana_text``); SNANA's -9 for an unknown redshift becomes NaN.

Options: ``label_column`` (HEAD column with the type code, default ``SNTYPE``, null for none; ELAsTiCC's true
class is in ``SIM_TYPE_INDEX``), ``classes`` (class name -> glob patterns over the code, as in ``snana_text``),
``patterns`` (globs for HEAD files under the data root, searched recursively).

A corrupt or truncated FITS file, a missing PHOT partner or column, pointers outside the PHOT table,
overlapping pointer ranges, or a range that covers a -777 separator is an InputError naming the file.
An object with no observations (NOBS = 0) is kept for the cleaner to record.
"""
from __future__ import annotations

import warnings
import zlib
from pathlib import Path

import numpy as np
import pandas as pd
from astropy.io import fits

from astroflow.catalogue import Catalogue
from astroflow.errors import InputError
from astroflow.sources.formats.common import (
    FLUXCAL_UNIT,
    check_options,
    list_files,
    require_columns,
    sources,
    unit_paths,
)
from astroflow.sources.labels import map_classes

DEFAULTS = {"label_column": "SNTYPE", "classes": None,
            "patterns": ("**/*HEAD.FITS", "**/*HEAD.FITS.gz", "**/*HEAD.fits", "**/*HEAD.fits.gz")}
SEPARATOR_MJD = -777.0


def discover(root: Path, **options) -> list[tuple[Path, Path]]:
    """One unit per HEAD file: (HEAD, PHOT), sorted by HEAD file path."""
    patterns = check_options(options, DEFAULTS, "snana_fits")["patterns"]
    return [(head, phot_partner(head)) for head in sorted(list_files(root, patterns))]


def phot_partner(head: Path) -> Path:
    """The PHOT file beside a HEAD file; InputError when it is missing."""
    at = head.name.upper().rfind("HEAD")
    if at < 0:
        raise InputError(head, "not a HEAD file: its PHOT partner is named by replacing HEAD with PHOT")
    word = "PHOT" if head.name[at:at + 4] == "HEAD" else "phot"
    phot = head.with_name(head.name[:at] + word + head.name[at + 4:])
    if not phot.is_file():
        raise InputError(head, f"no PHOT partner: expected {phot.name} beside it")
    return phot


def read(unit, **options) -> Catalogue:
    opts = check_options(options, DEFAULTS, "snana_fits")
    head_path, *phot = unit_paths(unit)
    phot_path = phot[0] if phot else phot_partner(head_path)
    if not phot_path.is_file():
        raise InputError(head_path, f"no PHOT partner: {phot_path} is missing")
    head, survey = fits_columns(head_path)
    phot, _ = fits_columns(phot_path)
    band = next((b for b in ("BAND", "FLT") if b in phot), "BAND")
    label_column = opts["label_column"]
    wanted = ["SNID", "PTROBS_MIN", "PTROBS_MAX"] + ([label_column] if label_column else [])
    require_columns(head_path, list(head), wanted)
    require_columns(phot_path, list(phot), ("MJD", band, "FLUXCAL", "FLUXCALERR"))
    ids = np.char.strip(head["SNID"].astype(str))
    twice = pd.Series(ids).duplicated()
    if twice.any():
        raise InputError(head_path, f"SNID {ids[twice.to_numpy()][0]} appears twice", field="SNID")
    index, counts = pointer_rows(head_path, phot_path, ids, head, phot["MJD"])
    obs = pd.DataFrame({"object_id": np.repeat(ids, counts).astype(object)})
    obs["time"] = phot["MJD"][index].astype(np.float64)
    obs["band"] = np.char.strip(phot[band][index].astype(str)).astype(object)
    obs["value"] = phot["FLUXCAL"][index].astype(np.float64)
    obs["error"] = phot["FLUXCALERR"][index].astype(np.float64)
    objects = pd.DataFrame({"object_id": ids.astype(object),
                            "type_code": codes(head[label_column]) if label_column else pd.NA})
    for name, keys in {"ra": ("RA",), "dec": ("DEC", "DECL"), "redshift": ("REDSHIFT_FINAL",)}.items():
        key = next((k for k in keys if k in head), None)
        objects[name] = head[key].astype(np.float64) if key else np.nan
    objects.loc[objects["redshift"] <= -9, "redshift"] = np.nan
    objects["label"] = map_classes(objects["type_code"], opts["classes"])
    return Catalogue(obs=obs, objects=objects, quantity="flux", unit=FLUXCAL_UNIT, survey=survey,
                     sources=sources(head_path, phot_path))


def fits_columns(path: Path) -> tuple[dict[str, np.ndarray], str]:
    """The columns of the first binary table in a FITS file (native byte order) and its SURVEY keyword."""
    try:
        with warnings.catch_warnings():
            for sign in ("File may have been truncated", "Error validating header"):
                warnings.filterwarnings("error", message=sign)
            with fits.open(path, memmap=False) as hdul:
                hdu = next((h for h in hdul if isinstance(h, fits.BinTableHDU)), None)
                if hdu is None:
                    raise ValueError("no binary table in the file")
                columns = {name: np.asarray(hdu.data[name]) for name in hdu.columns.names}
                survey = str(hdu.header.get("SURVEY", hdul[0].header.get("SURVEY", ""))).strip()
    except (OSError, EOFError, ValueError, TypeError, IndexError, KeyError, zlib.error, UserWarning) as err:
        raise InputError(path, f"corrupt or truncated FITS file: {err}") from None
    return {k: v.astype(v.dtype.newbyteorder("=")) for k, v in columns.items()}, survey


def pointer_rows(head_path: Path, phot_path: Path, ids: np.ndarray, head: dict,
                 mjd: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """0-based PHOT row indices of all objects in HEAD order, and each object's count of rows.

    The pointers are checked against the table's length, against each other (no overlap) and against the -777
    separators (none inside a light curve).
    """
    first = head["PTROBS_MIN"].astype(np.int64)
    last = head["PTROBS_MAX"].astype(np.int64)
    empty = (head["NOBS"].astype(np.int64) == 0) if "NOBS" in head else np.zeros(len(ids), dtype=bool)
    bad = ~empty & ((first < 1) | (last > len(mjd)) | (last < first - 1))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise InputError(head_path, f"SNID {ids[i]}: pointers {first[i]}..{last[i]} lie outside the "
                                    f"{len(mjd)} rows of {phot_path.name}", field="PTROBS_MIN")
    counts = np.where(empty, 0, last - first + 1)
    order = np.argsort(first, kind="stable")
    order = order[counts[order] > 0]
    clash = np.flatnonzero(first[order][1:] <= last[order][:-1])
    if len(clash):
        i, j = order[clash[0]], order[clash[0] + 1]
        raise InputError(head_path, f"pointer ranges of SNID {ids[i]} and SNID {ids[j]} overlap", field="PTROBS_MIN")
    ends = np.cumsum(counts)
    index = np.arange(ends[-1] if len(ends) else 0) + np.repeat(first - 1 - (ends - counts), counts)
    separator = np.flatnonzero(mjd[index] == SEPARATOR_MJD)
    if len(separator):
        i = int(np.searchsorted(ends, separator[0], side="right"))
        raise InputError(phot_path, f"SNID {ids[i]}: rows {first[i]}..{last[i]} include a -777 separator row",
                         field="MJD")
    return index, counts


def codes(column: np.ndarray) -> pd.Series:
    """Type codes as text (integers without a decimal point), missing codes as NA."""
    if column.dtype.kind in "iu":
        return pd.Series(column.astype(str), dtype="string")
    if column.dtype.kind == "f":
        return pd.Series([str(int(c)) if np.isfinite(c) and c == int(c) else (str(c) if np.isfinite(c) else None)
                          for c in column], dtype="string")
    return pd.Series(np.char.strip(column.astype(str)), dtype="string").replace("", pd.NA)
