"""SNANA text light curves (``.DAT``): one object per file, ``KEY: value`` header lines, ``VARLIST:`` naming the
columns, then one ``OBS:`` row per observation up to ``END:``.

Columns are found by their VARLIST name, not position: ``MJD``, ``FLT`` (or ``BAND``), ``FLUXCAL`` and
``FLUXCALERR``. Values are fluxes in SNANA's FLUXCAL units, defined by the zero point 27.5:
mag = 27.5 - 2.5 log10(FLUXCAL), so one unit is 10**-11 of the magnitude zero point (36.3 nJy for AB
magnitudes). The band order follows the ``FILTERS`` header. Per object: ``SNID`` (required), ``SNTYPE`` kept
raw as ``type_code``, ``RA``, ``DECL`` (or ``DEC``) and ``REDSHIFT_FINAL`` (SNANA's -9 for unknown becomes NaN).

Options: ``classes``, a mapping of class name to glob patterns over the SNTYPE code tried in order (for the
SNPCC, ``{"Ia": ["1"], "II": ["2?"], "Ibc": ["3", "3?"]}``), gives the label; without it the label is the
raw code, and a code no pattern matches is left unlabelled. ``patterns`` lists the file globs (default
``*.DAT``, ``*.dat`` and their ``.gz``).

A missing SNID or VARLIST column, an OBS row with another number of values than VARLIST names, text in a
numeric field, an OBS count that disagrees with ``NOBS`` (a truncated file) or a file without OBS rows is an
InputError naming file, line and field. Non-finite or negative values pass through to the cleaner.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from astroflow.catalogue import Catalogue
from astroflow.errors import InputError
from astroflow.sources.formats.common import (
    FLUXCAL_UNIT,
    check_options,
    list_files,
    open_text,
    sources,
    token_table,
    unit_paths,
)
from astroflow.sources.labels import map_classes

DEFAULTS = {"classes": None, "patterns": ("*.DAT", "*.dat", "*.DAT.gz", "*.dat.gz")}
NUMERIC = ("MJD", "FLUXCAL", "FLUXCALERR")
HEADER_NUMBERS = {"ra": ("RA",), "dec": ("DECL", "DEC"), "redshift": ("REDSHIFT_FINAL",)}


def discover(root: Path, **options) -> list[Path]:
    """One unit per file, sorted by name."""
    return list_files(root, check_options(options, DEFAULTS, "snana_text")["patterns"])


def read(unit, **options) -> Catalogue:
    classes = check_options(options, DEFAULTS, "snana_text")["classes"]
    paths = unit_paths(unit)
    parsed = [read_file(path) for path in paths]
    objects = pd.DataFrame([meta for meta, _ in parsed])
    twice = objects["object_id"].duplicated()
    if twice.any():
        i = int(np.flatnonzero(twice)[0])
        raise InputError(paths[i], f"SNID {objects['object_id'][i]} is also in another file of this unit", field="SNID")
    objects["label"] = map_classes(objects["type_code"], classes)
    survey = next((m["survey"] for m, _ in parsed if m["survey"]), "")
    filters = next((m["filters"] for m, _ in parsed if m["filters"]), "")
    obs = pd.DataFrame({c: np.concatenate([o[c] for _, o in parsed]) for c in ("time", "band", "value", "error")})
    obs.insert(0, "object_id", np.repeat(objects["object_id"].to_numpy(), [len(o["time"]) for _, o in parsed]))
    found = set(obs["band"])
    return Catalogue(obs=obs, objects=objects.drop(columns=["survey", "filters"]), quantity="flux", unit=FLUXCAL_UNIT,
                     survey=survey, bands=[b for b in filters if b in found] + sorted(found - set(filters)),
                     sources=sources(*paths))


def read_file(path: Path) -> tuple[dict, dict[str, np.ndarray]]:
    """(per-object header values, observation columns) of one SNANA text file."""
    try:
        with open_text(path) as f:
            lines = f.read().splitlines()
    except (OSError, UnicodeDecodeError, EOFError) as err:
        raise InputError(path, f"cannot read: {err}") from None
    if not any(line.strip() for line in lines):
        raise InputError(path, "empty file")
    header: dict[str, tuple[str, int]] = {}
    varlist, rows = None, []
    for n, line in enumerate(lines, start=1):
        key, colon, rest = line.partition(":")
        key = key.strip()
        if not colon or key.startswith("#"):
            continue
        if key == "VARLIST":
            varlist = (rest.split(), n)
        elif key == "OBS":
            if varlist is None:
                raise InputError(path, "OBS row before VARLIST", line=n)
            rows.append((n, rest.split()))
        elif key in ("END", "END_PHOTOMETRY"):
            break
        else:
            header.setdefault(key, (rest.split("#")[0].strip(), n))
    if "SNID" not in header or not header["SNID"][0]:
        raise InputError(path, "no SNID in the header", field="SNID")
    if varlist is None:
        raise InputError(path, "no VARLIST line (column names of the OBS rows)", field="VARLIST")
    names, varlist_line = varlist
    band = next((b for b in ("FLT", "BAND") if b in names), None)
    missing = [c for c in NUMERIC if c not in names] + ([] if band else ["FLT"])
    if missing:
        raise InputError(path, f"VARLIST lacks {', '.join(missing)}", line=varlist_line, field=missing[0])
    if not rows:
        raise InputError(path, "no OBS rows (no observations)")
    if "NOBS" in header:
        nobs, line = header["NOBS"]
        if nobs.split()[:1] != [str(len(rows))]:
            raise InputError(path, f"NOBS says {nobs} but the file has {len(rows)} OBS rows (truncated?)",
                             line=line, field="NOBS")
    table = token_table(path, rows, names, NUMERIC)
    object_id = header["SNID"][0].split()[0]
    obs = {"time": table.column("MJD").to_numpy(), "band": np.array(table.column(band).to_pylist(), dtype=object),
           "value": table.column("FLUXCAL").to_numpy(), "error": table.column("FLUXCALERR").to_numpy()}
    sntype = header.get("SNTYPE", ("", 0))[0].split()
    meta = {"object_id": object_id, "survey": header.get("SURVEY", ("", 0))[0],
            "filters": header.get("FILTERS", ("", 0))[0], "type_code": sntype[0] if sntype else None}
    for name, keys in HEADER_NUMBERS.items():
        key = next((k for k in keys if k in header), None)
        meta[name] = header_number(path, header, key) if key else np.nan
    if meta["redshift"] <= -9:
        meta["redshift"] = np.nan
    return meta, obs


def header_number(path: Path, header: dict[str, tuple[str, int]], key: str) -> float:
    """The first token of a header value as a number (``0.368 +- 0.005`` -> 0.368)."""
    text, line = header[key]
    token = text.split()[0] if text else "nan"
    try:
        return float(token)
    except ValueError:
        raise InputError(path, f"not a number: {token!r}", line=line, field=key) from None
