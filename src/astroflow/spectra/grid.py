"""The common wavelength grid and flux-conserving resampling onto it.

A grid is uniform in log10 wavelength (vacuum, Angstrom), as SDSS's: pixel ``i`` is centred on
``10**(start + i * step)`` and its edges lie half a step either side in log10. Resampling treats an input spectrum
as a flux density that is constant over each input pixel (edges halfway between pixel centres), so the flux
integrated over any wavelength range that both grids cover is the same before and after. Bad input pixels (mask
set, ivar <= 0 or not finite) contribute neither flux nor weight: an output pixel is the mean over its good part,
and is bad (ivar 0, mask set) when less than ``min_coverage`` of it is covered by good input. The variance of an
output pixel sums the input variance density over the pixel, the usual approximation for partly covered input
pixels; when input pixels are wider than output pixels the output noise is correlated and each output pixel's ivar
is that of its share of the wider input pixel.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

MASK_NO_DATA = 1  # store mask bit: no good input covers the pixel (outside the spectrum, or masked there)


@dataclass(frozen=True)
class Grid:
    """A log10-wavelength grid: ``n`` pixels from ``10**start`` Angstrom in steps of ``step`` dex (SDSS default:
    3.5523 to 4.0170, step 1e-4, 3561 to 10399 Angstrom, 4648 pixels)."""

    start: float = 3.5523
    stop: float = 4.0170
    step: float = 1e-4

    def __post_init__(self):
        if not (self.step > 0 and self.stop > self.start):
            raise ValueError(f"grid needs step > 0 and stop > start, got {self}")

    @property
    def n(self) -> int:
        return round((self.stop - self.start) / self.step) + 1

    @cached_property
    def loglam(self) -> np.ndarray:
        return self.start + self.step * np.arange(self.n)

    @property
    def wavelength(self) -> np.ndarray:
        return 10.0 ** self.loglam

    @property
    def edges(self) -> np.ndarray:
        return 10.0 ** (self.start + self.step * (np.arange(self.n + 1) - 0.5))


def pixel_edges(wavelength: np.ndarray) -> np.ndarray:
    """Edges of pixels centred on increasing ``wavelength``: midpoints, the ends mirrored."""
    mid = 0.5 * (wavelength[1:] + wavelength[:-1])
    return np.concatenate([[2 * wavelength[0] - mid[0]], mid, [2 * wavelength[-1] - mid[-1]]])


def resample(wavelength: np.ndarray, flux: np.ndarray, ivar: np.ndarray, grid: Grid, mask: np.ndarray | None = None,
             min_coverage: float = 0.5) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One spectrum (Angstrom, strictly increasing) resampled onto ``grid``: flux, ivar (float32), mask (uint8,
    MASK_NO_DATA where an output pixel has too little good input)."""
    wavelength = np.asarray(wavelength, dtype=np.float64)
    if len(wavelength) < 2 or not np.isfinite(wavelength).all() or (np.diff(wavelength) <= 0).any():
        raise ValueError("wavelength must be finite and strictly increasing, with at least two pixels")
    flux = np.asarray(flux, dtype=np.float64)
    ivar = np.asarray(ivar, dtype=np.float64)
    good = np.isfinite(flux) & np.isfinite(ivar) & (ivar > 0)
    if mask is not None:
        good &= np.asarray(mask) == 0
    edges = pixel_edges(wavelength)
    width = np.diff(edges)
    out_edges = grid.edges
    out_width = np.diff(out_edges)

    def integral(density: np.ndarray) -> np.ndarray:
        """The integral of a piecewise-constant density over every output pixel (exact, by its cumulative sum)."""
        cumulative = np.concatenate([[0.0], np.cumsum(density * width)])
        return np.diff(np.interp(out_edges, edges, cumulative))

    covered = integral(good.astype(np.float64))
    total = integral(np.where(good, flux, 0.0))
    variance = integral(np.where(good, 1.0 / np.where(good, ivar, 1.0), 0.0) * width)
    ok = covered >= min_coverage * out_width
    safe = np.where(ok, covered, 1.0)
    out_flux = np.where(ok, total / safe, 0.0)
    out_var = variance / safe ** 2
    out_ivar = np.where(ok & (out_var > 0), 1.0 / np.where(out_var > 0, out_var, 1.0), 0.0)
    return out_flux.astype(np.float32), out_ivar.astype(np.float32), np.where(ok, 0, MASK_NO_DATA).astype(np.uint8)


def to_rest_frame(wavelength: np.ndarray, flux: np.ndarray, ivar: np.ndarray,
                  z: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rest-frame wavelength, flux density per rest Angstrom ((1+z) times larger) and its ivar."""
    return wavelength / (1 + z), flux * (1 + z), ivar / (1 + z) ** 2
