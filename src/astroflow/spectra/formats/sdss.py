"""SDSS/BOSS spec-lite files (spec-PLATE-MJD-FIBER.fits): HDU 1 the coadded spectrum (FLUX in 1e-17
erg/s/cm2/A, LOGLAM, IVAR, AND_MASK), HDU 2 the pipeline's SPECOBJ row (CLASS, SUBCLASS, Z; its EXTNAME may be
blank, so it is read by position)."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from astroflow.errors import InputError
from astroflow.spectra.formats.common import Spectrum, column, hdu, increasing, number, open_fits, text

PATTERNS = ("spec-*.fits", "spec-*.fits.gz")
FLUX_UNIT = "1e-17 erg s-1 cm-2 Angstrom-1"


def read(path: str | Path) -> list[Spectrum]:
    path = Path(path)
    with open_fits(path) as hdul:
        coadd = hdu(hdul, path, 1, "COADD spectrum")
        loglam = column(coadd, path, 1, "LOGLAM")
        flux = column(coadd, path, 1, "FLUX")
        ivar = column(coadd, path, 1, "IVAR")
        mask = column(coadd, path, 1, "AND_MASK", dtype=np.int64)
        labels = hdu(hdul, path, 2, "SPECOBJ")
        if len(labels.data) < 1:
            raise InputError(path, "HDU 2 (SPECOBJ) has no row")
        row = {name: column(labels, path, 2, name, dtype=None)[0] for name in ("CLASS", "SUBCLASS", "Z")}
    wavelength = increasing(path, 10.0 ** loglam, "LOGLAM")
    return [Spectrum(path.name.split(".")[0], wavelength, flux, ivar, mask, str(path), text(row["CLASS"]),
                     text(row["SUBCLASS"]), number(row["Z"]))]

