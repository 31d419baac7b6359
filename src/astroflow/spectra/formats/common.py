"""What the spectrum readers share: the Spectrum they return, and FITS access whose errors name file, HDU and
column (a damaged or truncated file is an InputError, never an astropy or numpy traceback)."""
from __future__ import annotations

import contextlib
import math
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from astropy.io import fits

from astroflow.errors import InputError


@dataclass
class Spectrum:
    """One object's spectrum as read: observed vacuum wavelength (Angstrom, increasing), flux density, its inverse
    variance and a mask (non-zero: bad), with the labels the file gives (None or NaN when it gives none)."""

    object_id: str
    wavelength: np.ndarray
    flux: np.ndarray
    ivar: np.ndarray
    mask: np.ndarray
    source: str
    spec_class: str | None = None  # STAR, GALAXY, QSO
    subclass: str | None = None
    z: float = math.nan
    teff: float = math.nan
    logg: float = math.nan
    feh: float = math.nan
    extra: dict = field(default_factory=dict)

    def __post_init__(self):
        n = len(self.wavelength)
        for name in ("flux", "ivar", "mask"):
            if len(getattr(self, name)) != n:
                raise InputError(self.source, f"object {self.object_id}: {name} has {len(getattr(self, name))} "
                                              f"pixels, wavelength has {n}", field=name)


@contextlib.contextmanager
def open_fits(path: str | Path) -> Iterator[fits.HDUList]:
    """A FITS file opened for reading; a missing, truncated or non-FITS file is an InputError naming it."""
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "no such file")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # astropy warns about truncated files before failing: the error says it
            hdul = fits.open(path, memmap=False, lazy_load_hdus=False)
            hdul.verify("silentfix")
    except (OSError, ValueError, TypeError, IndexError, EOFError) as error:
        raise InputError(path, f"not a readable FITS file ({error})") from None
    try:
        yield hdul
    finally:
        hdul.close()


def hdu(hdul: fits.HDUList, path: str | Path, key: int | str, what: str):
    """HDU ``key`` (index or EXTNAME) of the file, its data loaded; a missing or unreadable one names ``what``."""
    try:
        unit = hdul[key]
        data = unit.data
    except (KeyError, IndexError):
        raise InputError(path, f"HDU {key!r} ({what}) is missing; the file has {len(hdul)} HDUs: "
                               f"{[h.name or i for i, h in enumerate(hdul)]}") from None
    except (OSError, ValueError, TypeError) as error:
        raise InputError(path, f"HDU {key!r} ({what}) cannot be read ({error})") from None
    if data is None:
        raise InputError(path, f"HDU {key!r} ({what}) holds no data")
    return unit


def column(table, path: str | Path, key: int | str, name: str, dtype=np.float64) -> np.ndarray:
    """Column ``name`` of a table HDU's data as ``dtype``; a missing or non-numeric one names file, HDU, column."""
    names = [n.upper() for n in table.columns.names]
    if name.upper() not in names:
        raise InputError(path, f"HDU {key!r} has no column {name!r}; its columns: {table.columns.names}", field=name)
    try:
        values = np.asarray(table.data[name])
        return values.astype(dtype) if dtype is not None else values
    except (ValueError, TypeError, OSError) as error:
        raise InputError(path, f"HDU {key!r} column {name!r} cannot be read as {np.dtype(dtype)} ({error})",
                         field=name) from None


def text(value) -> str | None:
    """A FITS string (bytes or str, blank padded) as stripped text; empty is None."""
    if value is None:
        return None
    if isinstance(value, bytes):
        value = value.decode("ascii", "replace")
    value = str(value).strip()
    return value or None


def number(value) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def increasing(path: str | Path, wavelength: np.ndarray, what: str) -> np.ndarray:
    """The wavelength grid, refused unless finite, positive and strictly increasing (naming ``what``)."""
    if len(wavelength) < 2 or not np.isfinite(wavelength).all() or (wavelength <= 0).any() or \
            (np.diff(wavelength) <= 0).any():
        raise InputError(path, f"{what}: wavelengths are not finite, positive and strictly increasing",
                         field=what)
    return wavelength
