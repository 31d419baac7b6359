"""DESI coadds (coadd-*.fits): one spectrum per FIBERMAP row in each arm's B_/R_/Z_ FLUX, IVAR, MASK images on the
arm's WAVELENGTH; the arms overlap and are merged on one grid (inverse-variance weighted where they overlap).
Labels (redrock SPECTYPE, SUBTYPE, Z) come from the redrock-*.fits file beside it (same name after the prefix)
when there is one, matched by TARGETID."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from astroflow.errors import InputError
from astroflow.spectra.formats.common import Spectrum, column, hdu, increasing, number, open_fits, text

PATTERNS = ("coadd-*.fits",)
ARMS = ("B", "R", "Z")


def read(path: str | Path) -> list[Spectrum]:
    path = Path(path)
    with open_fits(path) as hdul:
        targets = column(hdu(hdul, path, "FIBERMAP", "fibre map"), path, "FIBERMAP", "TARGETID", dtype=np.int64)
        arms = {}
        for arm in ARMS:
            wave = np.asarray(hdu(hdul, path, f"{arm}_WAVELENGTH", "arm wavelengths").data, dtype=np.float64)
            data = [np.atleast_2d(np.asarray(hdu(hdul, path, f"{arm}_{part}", f"arm {part.lower()}").data))
                    for part in ("FLUX", "IVAR", "MASK")]
            for part, values in zip(("FLUX", "IVAR", "MASK"), data):
                if values.shape != (len(targets), len(wave)):
                    raise InputError(path, f"HDU {arm}_{part} has shape {values.shape}, expected "
                                           f"({len(targets)} spectra, {len(wave)} pixels)")
            arms[arm] = (increasing(path, wave, f"{arm}_WAVELENGTH"), *data)
    labels = _redshifts(path.with_name(path.name.replace("coadd-", "redrock-", 1)))
    out = []
    for i, target in enumerate(targets):
        wavelength, flux, ivar, mask = _merge([(w, f[i], v[i], m[i]) for w, f, v, m in arms.values()])
        spec_class, subclass, z = labels.get(int(target), (None, None, np.nan))
        out.append(Spectrum(str(target), wavelength, flux, ivar, mask, str(path), spec_class, subclass, z))
    return out


def _merge(arms: list[tuple[np.ndarray, ...]]) -> tuple[np.ndarray, ...]:
    """The arms on one wavelength grid, the union of their pixels (to 1 mA): DESI's arms share one 0.8 A grid, so
    the pixels where arms overlap coincide and are averaged with inverse-variance weights; a pixel no arm has good
    is masked."""
    wave = np.concatenate([a[0] for a in arms])
    grid = np.unique(np.round(wave, 3))
    index = [np.searchsorted(grid, np.round(a[0], 3)) for a in arms]
    weight = np.zeros(len(grid))
    total = np.zeros(len(grid))
    mask = np.full(len(grid), -1, dtype=np.int64)
    for (_, flux, ivar, bad), at in zip(arms, index):
        good = (bad == 0) & (ivar > 0) & np.isfinite(flux)
        np.add.at(weight, at[good], ivar[good])
        np.add.at(total, at[good], (flux * ivar)[good])
        mask[at] = np.where(mask[at] == -1, bad, mask[at] & bad)
    ok = weight > 0
    flux = np.where(ok, total / np.where(ok, weight, 1.0), 0.0)
    return grid, flux, weight, np.where(ok, 0, np.maximum(mask, 1))


def _redshifts(path: Path) -> dict[int, tuple[str | None, str | None, float]]:
    """TARGETID -> (SPECTYPE, SUBTYPE, Z) of a redrock file; none when the file is absent."""
    if not path.is_file():
        return {}
    with open_fits(path) as hdul:
        table = hdu(hdul, path, "REDSHIFTS", "redrock redshifts")
        ids = column(table, path, "REDSHIFTS", "TARGETID", dtype=np.int64)
        kinds = column(table, path, "REDSHIFTS", "SPECTYPE", dtype=None)
        subtypes = column(table, path, "REDSHIFTS", "SUBTYPE", dtype=None)
        z = column(table, path, "REDSHIFTS", "Z")
    return {int(i): (text(k), text(s), number(v)) for i, k, s, v in zip(ids, kinds, subtypes, z)}
