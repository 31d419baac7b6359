"""Spectra drawn as 224x224 images for a vision transformer (ViT on spectra, arXiv:2506.00294).

Three kinds of line plot without axes, wavelength along x (its own min..max, linear in what is given, so a
log10-wavelength grid is drawn in log wavelength) and flux along y (min..max over the good pixels):

- ``"line"``: flux against wavelength, black on white;
- ``"segments"``: the wavelength range cut into three equal parts, each drawn over the full width in its own
  channel, on black: the blue end in red, the middle in green, the red end in blue. This triples the wavelength
  resolution of the picture;
- ``"derivatives"``: the flux in red, its first derivative (per grid pixel) in green, its second in blue, on black;
- ``"rows"``: the spectrum wrapped into ``rows`` bands stacked top to bottom, each a line plot (black on white) of its
  own equal part of the wavelength range over the full width, so the picture keeps ``rows`` times the wavelength
  resolution of a line plot (a 64-pixel image of 8 rows draws 512 columns of the spectrum).

And one kind that is not a plot:

- ``"tiles"``: the spectrum resampled (flux-conserving) to one value per pixel and laid out in square tiles of
  ``tile`` pixels, each tile a contiguous wavelength range, tiles in reading order; red is the flux, green its
  first derivative, blue the good pixels. With ``tile`` the ViT's patch size every token is one stretch of the
  spectrum at (nearly) full resolution, and 256 flux levels where a line in a thin band has a few.

The segments and the rows share the whole spectrum's flux scale, so their levels compare; the flux and its derivatives
are each min-max scaled on their own. The paper's text could not be checked here for how its RGB variants are laid
out; this module's reading is the one above.

Bad pixels (``mask`` non-zero, ``ivar`` <= 0 or not finite) are gaps in the line; a derivative is a gap wherever it
needs a bad pixel. A spectrum without good pixels is a blank image; a constant one is drawn at y = 0.5. Non-finite
flux at a good pixel, and a wavelength grid that is not finite and strictly increasing, are refused with an
:class:`~astroflow.errors.InputError`.
"""
from __future__ import annotations

import warnings

import numpy as np

from astroflow.errors import InputError
from astroflow.represent.raster import DEFAULT_LIMITS, Limits, make_canvas

KINDS = ("line", "segments", "derivatives", "rows", "tiles")


def render_spectra(flux: np.ndarray, wavelength: np.ndarray, mask: np.ndarray | None = None,
                   ivar: np.ndarray | None = None, kind: str = "line", size: int | tuple[int, int] = 224,
                   renderer: str = "fast", *, line_width: float = 1.0, limits: Limits = DEFAULT_LIMITS,
                   batch_size: int = 64, rows: int = 4, clip: float = 0.0, tile: int = 16) -> np.ndarray:
    """Images (spectra, height, width, 3) uint8 of spectra ``flux`` (spectra, pixels) on ``wavelength``.

    ``wavelength`` is one grid (pixels,) shared by all spectra or one per spectrum (spectra, pixels), linear or
    log10; ``mask`` and ``ivar`` have the shape of ``flux``. ``renderer``: ``"fast"`` or ``"matplotlib"``; ``rows``:
    bands of kind ``"rows"``; ``tile``: the tile side of kind ``"tiles"``; ``clip``: a percentile (0 to 50) of each curve's good values, the flux scale running
    from it to 100 - ``clip`` with values beyond drawn at the edge, so cosmic rays and sky residuals do not squash
    the spectrum (0: its minimum to maximum).
    """
    if kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r}; choose one of {KINDS}")
    if kind == "rows" and not 1 <= rows <= min(np.atleast_1d(size)):
        raise ValueError(f"rows must be between 1 and the image height, not {rows}")
    if not 0 <= clip < 50:
        raise ValueError(f"clip must be a percentile in [0, 50), not {clip}")
    height, width = (size, size) if isinstance(size, int) else size
    if kind == "tiles" and (tile < 1 or height % tile or width % tile):
        raise ValueError(f"tile must divide the image's height and width ({height}, {width}), not {tile}")
    flux = np.atleast_2d(np.asarray(flux, dtype=np.float64))
    wavelength = np.broadcast_to(np.asarray(wavelength, dtype=np.float64), flux.shape)
    good = np.ones(flux.shape, dtype=bool)
    for name, array in (("mask", mask), ("ivar", ivar)):
        if array is not None and np.shape(array) != flux.shape:
            raise ValueError(f"{name} has shape {np.shape(array)}, flux has {flux.shape}")
    if mask is not None:
        good &= np.asarray(mask) == 0
    if ivar is not None:
        good &= np.asarray(ivar, dtype=np.float64) > 0
    _check(flux, wavelength, good)
    if kind == "tiles":
        return _tiles(flux, good, height, width, tile, clip)
    out = np.empty((len(flux), height, width, 3), dtype=np.uint8)
    plots = 3 if kind in ("segments", "derivatives") else 1
    canvas = make_canvas(renderer, min(batch_size, len(flux)) * plots, height, width, channels=1)
    for start in range(0, len(flux), batch_size):
        stop = min(start + batch_size, len(flux))
        chunk = slice(start, stop)
        x, y, valid = _curves(kind, flux[chunk], wavelength[chunk], good[chunk], rows, clip)
        if start:
            canvas.clear()
        # Curves are ordered (spectrum, curve); the rows of a spectrum share its one plot.
        n_plots = (stop - start) * plots
        image = np.broadcast_to((np.arange(len(x)) // (len(x) // n_plots))[:, None], x.shape)
        # A new path starts after every gap and with every curve, so the line breaks there.
        path = np.cumsum(~valid, axis=1) + np.arange(len(x))[:, None] * x.shape[1]
        canvas.lines(image[valid], x[valid], y[valid], (0.0,), width=line_width, path=path[valid], xlim=limits,
                     ylim=limits)
        planes = canvas.result(np.empty((n_plots, height, width, 1), dtype=np.uint8))[..., 0]
        # One black-on-white plot fills every channel; three plots each light up their own channel on black.
        planes = planes.reshape(-1, plots, height, width).transpose(0, 2, 3, 1)
        out[chunk] = planes if plots == 1 else 255 - planes
    return out


def _check(flux: np.ndarray, wavelength: np.ndarray, good: np.ndarray) -> None:
    if not np.isfinite(wavelength).all() or (np.diff(wavelength, axis=1) <= 0).any():
        raise InputError("wavelength", "must be finite and strictly increasing", field="wavelength")
    bad = good & ~np.isfinite(flux)
    if bad.any():
        spectrum, pixel = np.argwhere(bad)[0]
        raise InputError(f"spectrum {spectrum}", f"non-finite flux at good pixel {pixel}", field="flux")


def _tiles(flux: np.ndarray, good: np.ndarray, height: int, width: int, tile: int, clip: float) -> np.ndarray:
    values, ok = _resampled(flux, good, height * width)
    first = _derivative(np.where(ok, values, np.nan))
    channels = np.stack([_scaled(values, ok, clip), _scaled(first, np.isfinite(first), clip), ok], axis=-1)
    pixels = np.rint(255 * channels).astype(np.uint8)
    # (spectra, tile rows, tile columns, tile, tile, 3): the n-th tile holds the n-th stretch of the spectrum.
    tiles = pixels.reshape(len(flux), height // tile, width // tile, tile, tile, 3)
    return np.ascontiguousarray(tiles.transpose(0, 1, 3, 2, 4, 5).reshape(len(flux), height, width, 3))


def _resampled(flux: np.ndarray, good: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Each row's good values averaged over ``n`` equal stretches of its pixels (fractions of a pixel at the edges
    weighted by their share), and whether a stretch holds any good pixel."""
    pixels = flux.shape[1]
    weight = np.pad(np.cumsum(good, axis=1, dtype=np.float64), ((0, 0), (1, 0)))
    total = np.pad(np.cumsum(np.where(good, flux, 0.0), axis=1), ((0, 0), (1, 0)))
    edges = np.linspace(0, pixels, n + 1)
    left = np.minimum(edges.astype(int), pixels - 1)
    share = edges - left

    def at_edges(cumulative: np.ndarray) -> np.ndarray:
        return cumulative[:, left] + share * (cumulative[:, left + 1] - cumulative[:, left])

    counts, sums = np.diff(at_edges(weight), axis=1), np.diff(at_edges(total), axis=1)
    ok = counts > 1e-9
    return np.where(ok, sums / np.where(ok, counts, 1.0), 0.0), ok


def _scaled(values: np.ndarray, valid: np.ndarray, clip: float = 0.0) -> np.ndarray:
    """Each row min-max scaled to [0, 1] over its valid entries, after clipping to its ``clip`` and 100 - ``clip``
    percentiles; a constant row is 0.5."""
    if clip and valid.any():
        with np.errstate(invalid="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # rows without valid entries: NaN limits, left as they are
            limits = np.nanpercentile(np.where(valid, values, np.nan), [clip, 100 - clip], axis=1, keepdims=True)
        values = np.clip(values, np.nan_to_num(limits[0], nan=-np.inf), np.nan_to_num(limits[1], nan=np.inf))
    low = np.where(valid, values, np.inf).min(axis=1, keepdims=True)
    high = np.where(valid, values, -np.inf).max(axis=1, keepdims=True)
    # Spans within float rounding of the values count as constant, so rounding noise is not blown up.
    varies = high - low > 1e-6 * np.maximum(np.abs(high), np.abs(low))
    span = np.where(varies, high - low, 1.0)
    low = np.where(varies, low, 0.0)
    scaled = np.where(varies, (np.where(valid, values, low) - low) / span, 0.5)
    return np.where(valid, scaled, 0.0)


def _derivative(values: np.ndarray) -> np.ndarray:
    """Per-pixel derivative along each row, second-order accurate at the ends too; NaN where it needs a NaN."""
    n = values.shape[1]
    return np.gradient(values, axis=1, edge_order=2 if n > 2 else 1) if n > 1 else np.full_like(values, np.nan)


def _curves(kind: str, flux: np.ndarray, wavelength: np.ndarray, good: np.ndarray, rows: int,
            clip: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """x, y in [0, 1] and validity of every curve, ordered (spectrum, channel or row)."""
    low, high = wavelength[:, :1], wavelength[:, -1:]
    x = (wavelength - low) / np.where(high > low, high - low, 1.0)
    y = _scaled(flux, good, clip)
    if kind == "line":
        return x, y, good
    if kind == "derivatives":
        first = _derivative(np.where(good, flux, np.nan))
        second = _derivative(first)
        valid = np.stack([good, good & np.isfinite(first), good & np.isfinite(second)], axis=1).reshape(-1, flux.shape[1])
        y = _scaled(np.stack([flux, first, second], axis=1).reshape(-1, flux.shape[1]), valid, clip)
        return np.repeat(x, 3, axis=0), y, valid
    parts = 3 if kind == "segments" else rows
    # Each part of the range with one pixel beyond each end, so consecutive curves meet.
    ranges = [(x >= k / parts) & (x <= (k + 1) / parts) for k in range(parts)]
    inside = np.stack([r | np.pad(r[:, 1:], ((0, 0), (0, 1))) | np.pad(r[:, :-1], ((0, 0), (1, 0)))
                       for r in ranges], axis=1)
    x = ((x[:, None] - np.arange(parts)[None, :, None] / parts) * parts).reshape(-1, flux.shape[1])
    y = np.repeat(y, parts, axis=0)
    if kind == "rows":
        # Row k from the top, drawn inside its band with a tenth of the band as margin above and below.
        band = np.tile(np.arange(parts)[::-1], len(flux))[:, None]
        y = (band + 0.1 + 0.8 * y) / parts
    return x, y, (good[:, None] & inside).reshape(-1, flux.shape[1])
