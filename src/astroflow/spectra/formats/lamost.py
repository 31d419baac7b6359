"""LAMOST low-resolution spectra (spec-LMJD-PLANID_spSS-FFF.fits): the primary image holds rows flux, inverse
variance, sky-subtracted continuum-normalised flux, andmask, ormask (DR1-DR9 layout) on the log10 grid of the header
(CRVAL1 + CD1_1 * i); CLASS, SUBCLASS, Z in the header. The flux is in relative counts, not flux-calibrated."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from astroflow.errors import InputError
from astroflow.spectra.formats.common import Spectrum, hdu, increasing, number, open_fits, text

PATTERNS = ("spec-*.fits", "spec-*.fits.gz")
ROWS = {"flux": 0, "ivar": 1, "andmask": 3}


def read(path: str | Path) -> list[Spectrum]:
    path = Path(path)
    with open_fits(path) as hdul:
        primary = hdu(hdul, path, 0, "primary image")
        image = np.asarray(primary.data)
        header = primary.header
    if image.ndim != 2 or image.shape[0] < max(ROWS.values()) + 1:
        raise InputError(path, f"primary image has shape {image.shape}; a LAMOST spectrum has rows flux, ivar, "
                               "continuum, andmask, ormask")
    keys = {}
    for key in ("CRVAL1", "CD1_1"):
        keys[key] = number(header.get(key, header.get("CDELT1") if key == "CD1_1" else None))
        if not np.isfinite(keys[key]):
            raise InputError(path, f"header keyword {key} (the log10 wavelength grid) is missing or not a number",
                             field=key)
    loglam = keys["CRVAL1"] + keys["CD1_1"] * np.arange(image.shape[1])
    wavelength = increasing(path, 10.0 ** loglam, "CRVAL1/CD1_1")
    name = text(header.get("OBSID")) or path.name.split(".")[0]
    return [Spectrum(name, wavelength, image[ROWS["flux"]].astype(np.float64), image[ROWS["ivar"]].astype(np.float64),
                     image[ROWS["andmask"]].astype(np.int64), str(path), text(header.get("CLASS")),
                     text(header.get("SUBCLASS")), number(header.get("Z")), number(header.get("TEFF")),
                     number(header.get("LOGG")), number(header.get("FEH")))]
