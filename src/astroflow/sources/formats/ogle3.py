"""OGLE-III photometry: one ``.dat`` file per star and band, rows ``HJD mag err``.

The layouts are MACHO's (see ``macho``): ``OGLE-LMC-CEP-0001.I.dat``, or ``I/OGLE-LMC-CEP-0001.dat`` as the
OGLE-III catalogue of variable stars ships its ``phot`` archives. Point the data root at the unpacked ``phot``
folder: the catalogue's own tables (``ident.dat``, ``cepF.dat``, ...) are not light curves.

OGLE gives times either in full (HJD, 2450000 and more) or as HJD - 2450000; the convention is told per file
from the values (a file mixing both is an InputError) and times become MJD = HJD - 2400000.5. The time stays
heliocentric: "MJD" here is an MJD-like heliocentric date, which differs from a geocentric MJD by at most
about 8 minutes.

Options: ``bands`` (default I and V), ``suffix`` (default ``.dat``) and ``labels`` (default true): an
identifier ``OGLE-<field>-<class>-<number>`` gives the class part as the label (CEP, T2CEP, RRLYR, ECL, LPV,
DSCT, ...); other names are left unlabelled.
"""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from astroflow.catalogue import Catalogue
from astroflow.errors import InputError
from astroflow.sources.formats.common import check_options, to_mjd, unit_paths
from astroflow.sources.formats.macho import band_catalogue, band_file_units, read_band_file

DEFAULTS = {"bands": ("I", "V"), "suffix": ".dat", "labels": True}
FIELDS = ("HJD", "mag", "err")
FULL_HJD = 2_400_000.0      # times at or above are full HJD
SHORT_HJD = 100_000.0       # times below are HJD - 2450000
OGLE_ID = re.compile(r"^OGLE-[A-Z0-9]+-([A-Z0-9]+)-\d+$")


def discover(root: Path, **options) -> list[tuple[Path, ...]]:
    """One unit per star: its band files, in the order of ``bands``."""
    opts = check_options(options, DEFAULTS, "ogle3")
    return band_file_units(root, opts["bands"], opts["suffix"])


def read(unit, **options) -> Catalogue:
    opts = check_options(options, DEFAULTS, "ogle3")
    records = []
    for path in unit_paths(unit):
        object_id, band, rows, path = read_band_file(path, opts["bands"], opts["suffix"], FIELDS)
        rows[:, 0] = hjd_to_mjd(rows[:, 0], path)
        records.append((object_id, band, rows, path))
    labels = {oid: class_of(oid) for oid, *_ in records} if opts["labels"] else None
    return band_catalogue(records, survey="OGLE-III", bands=opts["bands"], labels=labels)


def hjd_to_mjd(hjd: np.ndarray, path: Path) -> np.ndarray:
    """MJD-like heliocentric dates from full HJD or HJD - 2450000 (non-finite times pass through)."""
    finite = hjd[np.isfinite(hjd)]
    if np.all(finite >= FULL_HJD):
        return to_mjd(hjd, "hjd")
    if np.all(finite < SHORT_HJD):
        return to_mjd(hjd, "hjd-2450000")
    raise InputError(path, "times mix full HJD (>= 2400000) and HJD - 2450000, or lie between the two", field="HJD")


def class_of(object_id: str) -> str | None:
    """The class part of an OGLE identifier (``OGLE-LMC-CEP-0001`` -> ``CEP``), None for other names."""
    match = OGLE_ID.match(object_id)
    return match.group(1) if match else None
