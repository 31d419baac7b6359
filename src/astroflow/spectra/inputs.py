"""What the models read from a spectral store: normalised flux vectors (1-D CNN, and binned for the forest and the
SVM), spectrum images (ViT), and the label targets.

Every spectrum is divided by its median absolute flux over good pixels, so models see shapes (lines, breaks, slopes)
rather than brightness; bad pixels are 0 in the vectors and gaps in the images. Before drawing, a spectrum is binned
(inverse-variance weighted) to three points per image column, so the picture shows the spectrum rather than its
per-pixel noise.
"""
from __future__ import annotations

import numpy as np
import xarray as xr

from astroflow.represent.spectrum_images import render_spectra
from astroflow.spectra.store import text

REGRESSION = ("z", "teff", "logg", "feh")  # targets a model can regress; teff as log10
STAR_TYPES = "OBAFGKM"


def family(spec_class: str, subclass: str) -> str:
    """A pipeline's subclass as the simulator's subclass family: a star's spectral type letter (O..M) or WD, a
    galaxy's STARFORMING (star-forming or starburst) or PASSIVE (no emission subclass), every quasar BROADLINE;
    anything else is kept as it is (and is not a training subclass, so it is not scored)."""
    sub = (subclass or "").strip().upper()
    if spec_class == "STAR":
        if sub.startswith(("WD", "D")) and not sub.startswith("DO "):
            return "WD"
        return sub[0] if sub and sub[0] in STAR_TYPES else sub
    if spec_class == "GALAXY":
        return "STARFORMING" if sub.startswith(("STARFORMING", "STARBURST")) else ("PASSIVE" if not sub else sub)
    if spec_class == "QSO":
        return "BROADLINE"
    return sub


def good_pixels(ivar: np.ndarray, mask: np.ndarray) -> np.ndarray:
    return (mask == 0) & (ivar > 0) & np.isfinite(ivar)


def normalised(flux: np.ndarray, ivar: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Flux over its median absolute good value per spectrum (0 at bad pixels, limited to +-50), and good."""
    good = good_pixels(ivar, mask) & np.isfinite(flux)
    scale = np.nanmedian(np.where(good, np.abs(flux), np.nan), axis=1, keepdims=True) if good.any() else 1.0
    scale = np.where(np.isfinite(scale) & (scale > 0), scale, 1.0)
    return np.clip(np.where(good, flux / scale, 0.0), -50, 50).astype(np.float32), good


def binned(flux: np.ndarray, ivar: np.ndarray, good: np.ndarray,
           factor: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Inverse-variance weighted means over blocks of ``factor`` pixels (the last partial block dropped): flux,
    summed ivar, good (a block with a good pixel)."""
    n = flux.shape[1] // factor * factor
    weight = np.where(good, ivar, 0.0)[:, :n].reshape(len(flux), -1, factor)
    total = weight.sum(axis=2)
    mean = (weight * flux[:, :n].reshape(len(flux), -1, factor)).sum(axis=2) / np.where(total > 0, total, 1.0)
    return mean.astype(np.float32), total.astype(np.float32), total > 0


def vectors(ds: xr.Dataset, index: np.ndarray, rng: np.random.Generator | None = None) -> np.ndarray:
    """(objects, 2, pixels) float32: normalised flux and the good-pixel mask, for the 1-D CNN (noisy copies with
    ``rng``: :func:`_arrays`)."""
    flux, good = normalised(*_arrays(ds, index, rng))
    return np.stack([flux, good.astype(np.float32)], axis=1)


def features(ds: xr.Dataset, index: np.ndarray, factor: int) -> np.ndarray:
    """(objects, pixels // factor) float32: normalised flux binned by ``factor``, for the forest and the SVM."""
    flux, ivar, mask = _arrays(ds, index)
    norm, good = normalised(flux, ivar, mask)
    return binned(norm, np.where(good, ivar, 0.0), good, factor)[0]


def images(ds: xr.Dataset, index: np.ndarray, kind: str, image_size: int, line_width: float = 1.0, rows: int = 4,
           clip: float = 0.0, tile: int = 16, rng: np.random.Generator | None = None) -> np.ndarray:
    """(objects, image_size, image_size, 3) uint8 spectrum images (represent/spectrum_images.py) of binned spectra,
    three bins per drawn column (``rows`` columns per image column for kind ``"rows"``; for ``"tiles"``, binned
    only down to the image's pixel count); noisy copies with ``rng`` (:func:`_arrays`)."""
    flux, ivar, mask = _arrays(ds, index, rng)
    norm, good = normalised(flux, ivar, mask)
    drawn = image_size**2 if kind == "tiles" else 3 * image_size * (rows if kind == "rows" else 1)
    factor = max(1, flux.shape[1] // drawn)
    mean, _weight, ok = binned(norm, np.where(good, ivar, 0.0), good, factor)
    loglam = ds["loglam"].values[: mean.shape[1] * factor].reshape(-1, factor).mean(axis=1)
    return render_spectra(mean, loglam, mask=(~ok).astype(np.uint8), kind=kind, size=image_size,
                          line_width=line_width, rows=rows, clip=clip, tile=tile)


def drawing(settings: dict) -> dict:
    """The keyword arguments of :func:`images` among a Spectromer's settings (a card's, or its config's fields):
    tiles are the ViT's patches (timm's 16 pixels when the preset leaves it)."""
    return {**{k: settings[k] for k in ("kind", "image_size", "line_width", "rows", "clip") if k in settings},
            "tile": settings.get("patch_size") or 16}


def _arrays(ds: xr.Dataset, index: np.ndarray,
            rng: np.random.Generator | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Flux, ivar and mask of objects ``index``; with ``rng``, a noisy copy for augmentation: every good pixel's
    flux plus a normal draw of its own standard deviation (1 / sqrt(ivar)), as a second exposure would differ."""
    sel = ds.isel(object=np.asarray(index))
    flux, ivar, mask = sel["flux"].values, sel["ivar"].values, sel["mask"].values
    if rng is not None:
        sigma = np.where(good_pixels(ivar, mask), 1 / np.sqrt(np.where(ivar > 0, ivar, 1.0)), 0.0)
        flux = flux + rng.normal(size=flux.shape) * sigma
    return flux, ivar, mask


def targets(ds: xr.Dataset, classes: list[str], subclasses: list[str], regression: list[str],
            log1p_z: bool) -> dict[str, np.ndarray]:
    """Integer codes of class and subclass family (-1 where not among the names) and the regression targets
    (z as log(1 + z) if ``log1p_z``; teff as log10 Teff; NaN where unknown)."""
    spec_class = text(ds, "class")
    sub = np.array([family(c, s) for c, s in zip(spec_class, text(ds, "subclass"))])
    code = {name: i for i, name in enumerate(classes)}
    sub_code = {name: i for i, name in enumerate(subclasses)}
    out = {"class": np.array([code.get(c, -1) for c in spec_class], dtype=np.int64),
           "subclass": np.array([sub_code.get(s, -1) for s in sub], dtype=np.int64)}
    values = []
    for name in regression:
        v = ds[name].values.astype(np.float64)
        if name == "z" and log1p_z:
            v = np.log1p(v)
        elif name == "teff":
            v = np.log10(v)
        values.append(v)
    out["regression"] = np.stack(values, axis=1).astype(np.float32) if values else np.zeros((len(sub), 0), np.float32)
    return out
