"""Batched anti-aliased drawing of plots (lines, markers, error bars), and a matplotlib reference that draws the same.

Rendering light curves with matplotlib costs ~10 ms an image, too slow to make images on the fly for millions of
objects. :class:`Canvas` draws a whole batch with the compiled loops of :mod:`~astroflow.represent.raster_kernels`:
about 5,000 two-band 256x256 images a second on one core, 70-90 times matplotlib, SSIM 0.99 against it
(``bench/bench_render.py``). It draws on the CPU only: images are made by the data loader's CPU workers, and one
core draws more than a GPU consumes training an image model. :class:`MatplotlibCanvas` has the same interface and is
kept as the reference.

Geometry, shared by both canvases: an image is ``height x width`` pixels; pixel ``(row i, column j)`` covers the
square ``[j, j+1] x [i, i+1]`` of continuous pixel coordinates, so its centre is ``(j + 0.5, i + 0.5)``. Each draw
call names a panel ``box = (left, top, width, height)`` in pixel coordinates and data limits ``xlim``, ``ylim``:
``xlim[0]`` maps to the box's left edge, ``xlim[1]`` to its right edge, ``ylim[0]`` to its bottom edge and
``ylim[1]`` to its top edge (y up). A point at (0.5, 0.5) with limits (0, 1) on a 255-pixel image thus lands on
the centre of pixel (127, 127); on a 256-pixel image it lands on the corner shared by the four central pixels.
Primitives are clipped to their box. Sizes and widths are in pixels.

Consecutive draw calls in the same colour and alpha make one layer: the coverage of their primitives is merged by
maximum (as in one matplotlib path, so overlaps do not darken) and composited "over" what is already drawn, starting
from white. (Matplotlib composites each artist on its own; the two differ only where anti-aliased edges of the same
colour overlap.)
"""
from __future__ import annotations

import math

import numpy as np
from scipy.ndimage import gaussian_filter

from astroflow.represent import raster_kernels

Box = tuple[float, float, float, float]
Limits = tuple[float, float]
DEFAULT_LIMITS: Limits = (-0.05, 1.05)


def _ints(values) -> np.ndarray:
    return np.asarray(values, dtype=np.int64).reshape(-1)


class Canvas:
    """A batch of images drawn with anti-aliasing: signed distances for lines and discs, exact area coverage for
    bars, evaluated only on each primitive's neighbourhood of pixels.

    Every layer keeps its coverage (0..255) in a plane of its own until :meth:`result` composites them all in one
    pass over the pixels.
    """

    def __init__(self, batch: int, height: int, width: int, channels: int = 3):
        self.shape = (batch, height, width, channels)
        self._layers: list[tuple[tuple[float, ...], float]] = []  # colour and alpha of each layer drawn
        self._planes = np.zeros((0, batch * height * width), dtype=np.uint8)

    def clear(self) -> None:
        """Back to white, to draw the next batch without allocating again."""
        self._planes[:len(self._layers)] = 0
        self._layers = []

    def _to_pixels(self, x, y, box: Box | None, xlim: Limits, ylim: Limits) -> tuple[np.ndarray, np.ndarray]:
        left, top, w, h = box or self._full_box
        px = left + (np.asarray(x, dtype=np.float32).reshape(-1) - xlim[0]) * (w / (xlim[1] - xlim[0]))
        py = top + (ylim[1] - np.asarray(y, dtype=np.float32).reshape(-1)) * (h / (ylim[1] - ylim[0]))
        if not (np.isfinite(px).all() and np.isfinite(py).all()):
            raise ValueError("coordinates to draw must be finite")
        return px, py

    def _pixel_range(self, box: Box | None) -> tuple[tuple[int, int], tuple[int, int]]:
        """First and last column, and first and last row, whose centre lies in the box and the image."""
        left, top, w, h = box or self._full_box
        return ((max(math.ceil(left - 0.5), 0), min(math.floor(left + w - 0.5), self.shape[2] - 1)),
                (max(math.ceil(top - 0.5), 0), min(math.floor(top + h - 0.5), self.shape[1] - 1)))

    def lines(self, image, x, y, colour, width: float = 1.0, path=None, box: Box | None = None,
              xlim: Limits = DEFAULT_LIMITS, ylim: Limits = DEFAULT_LIMITS, alpha: float = 1.0) -> None:
        """Polylines through consecutive points of the same ``image`` (and ``path``), round caps and joins."""
        image = _ints(image)
        px, py = self._to_pixels(x, y, box, xlim, ylim)
        same = image[1:] == image[:-1]
        if path is not None:
            path = _ints(path)
            same &= path[1:] == path[:-1]
        start = np.flatnonzero(same)
        base = image[start] * (self.shape[1] * self.shape[2])
        columns, rows = self._pixel_range(box)
        reach = width / 2 + 0.5
        # Pixels across the segment within reach / cos of its centre line: at most floor(2 * reach * sqrt 2) + 1.
        band = math.floor(2 * reach * math.sqrt(2)) + 1
        if min(columns[1] - columns[0], rows[1] - rows[0]) + 1 < band:
            raise ValueError(f"a panel narrower than {band} pixels cannot hold lines {width} pixels wide")
        self._start_layer(colour, alpha)
        raster_kernels.segments(self._plane, base, px[start], py[start], px[start + 1], py[start + 1], columns, rows,
                                self.shape[2], reach, band)

    def markers(self, image, x, y, colour, size: float = 3.0, box: Box | None = None,
                xlim: Limits = DEFAULT_LIMITS, ylim: Limits = DEFAULT_LIMITS, alpha: float = 1.0) -> None:
        """Filled discs of diameter ``size`` centred on the points."""
        _, height, width, _ = self.shape
        base = _ints(image) * (height * width)
        px, py = self._to_pixels(x, y, box, xlim, ylim)
        columns, rows = self._pixel_range(box)
        reach = size / 2 + 0.5
        self._start_layer(colour, alpha)
        raster_kernels.discs(self._plane, base, px, py, columns, rows, width, reach, math.floor(2 * reach) + 1)

    def bars(self, image, x, y_low, y_high, colour, width: float = 1.0, box: Box | None = None,
             xlim: Limits = DEFAULT_LIMITS, ylim: Limits = DEFAULT_LIMITS, alpha: float = 1.0) -> None:
        """Vertical bars (error bars) from ``y_low`` to ``y_high`` at ``x``, butt ends, exact area coverage."""
        _, height, width_px, _ = self.shape
        base = _ints(image) * (height * width_px)
        px, top = self._to_pixels(x, y_high, box, xlim, ylim)
        _, bottom = self._to_pixels(x, y_low, box, xlim, ylim)
        columns, rows = self._pixel_range(box)
        top, bottom = (np.clip(t, rows[0], rows[1] + 1) for t in (np.minimum(top, bottom), np.maximum(top, bottom)))
        self._start_layer(colour, alpha)
        raster_kernels.bars(self._plane, base, px, top, bottom, columns, rows, width_px, width / 2,
                            math.ceil(width) + 1)

    @property
    def _plane(self) -> np.ndarray:
        """The current layer's coverage plane."""
        return self._planes[len(self._layers) - 1]

    @property
    def _full_box(self) -> Box:
        return (0.0, 0.0, float(self.shape[2]), float(self.shape[1]))

    def _start_layer(self, colour, alpha: float) -> None:
        """A new colour or alpha starts a new layer; the same continues the current one."""
        layer = (tuple(np.broadcast_to(np.asarray(colour, dtype=float).reshape(-1), (self.shape[3],))), alpha)
        if self._layers and layer == self._layers[-1]:
            return
        if len(self._layers) == len(self._planes):
            self._planes = np.concatenate([self._planes, np.zeros((1, self._planes.shape[1]), dtype=np.uint8)])
        self._layers.append(layer)

    def result(self, out: np.ndarray | None = None) -> np.ndarray:
        """The images, (batch, height, width, channels) uint8; written into ``out`` (its first images) if given."""
        channels = self.shape[3]
        out = np.empty(self.shape, dtype=np.uint8) if out is None else out
        image = out if out.flags.c_contiguous else np.empty_like(out)  # the kernel writes through a flat view
        # Colours as 0..255 plus 0.5, so that the kernel's truncation to uint8 rounds.
        colours = np.array([colour for colour, _ in self._layers], dtype=np.float32).reshape(-1, channels) * 255 + 0.5
        alphas = np.array([alpha for _, alpha in self._layers], dtype=np.float32)
        raster_kernels.composite(image.reshape(-1, channels), self._planes[:len(self._layers), :image[..., 0].size],
                                 colours, alphas)
        if image is not out:
            out[...] = image
        return out


class MatplotlibCanvas:
    """The reference: the same draw calls made with matplotlib's Agg backend, one figure per image, no axes."""

    def __init__(self, batch: int, height: int, width: int, channels: int = 3):
        self.shape = (batch, height, width, channels)
        self.clear()

    def clear(self) -> None:
        """Fresh figures for the next batch."""
        from matplotlib.figure import Figure

        batch, height, width, _ = self.shape
        # At 72 dots per inch one point is one pixel, so widths and sizes carry over unchanged.
        self._figures = [Figure(figsize=(width / 72, height / 72), dpi=72, facecolor="white") for _ in range(batch)]
        self._axes: dict[tuple[int, Box, Limits, Limits], object] = {}

    def _axes_for(self, image: int, box: Box | None, xlim: Limits, ylim: Limits):
        _, height, width, _ = self.shape
        left, top, w, h = box or (0.0, 0.0, float(width), float(height))
        key = (image, (left, top, w, h), xlim, ylim)
        if key not in self._axes:
            ax = self._figures[image].add_axes((left / width, 1 - (top + h) / height, w / width, h / height))
            ax.set_axis_off()
            ax.set_xlim(*xlim)
            ax.set_ylim(*ylim)
            self._axes[key] = ax
        return self._axes[key]

    def _groups(self, image, *arrays):
        image = np.asarray(image).reshape(-1)
        arrays = [np.asarray(a).reshape(-1) for a in arrays]
        for i in np.unique(image):
            chosen = image == i
            yield int(i), [a[chosen] for a in arrays]

    def _colour(self, colour, alpha):
        colour = np.broadcast_to(np.asarray(colour, dtype=float).reshape(-1), (3,))
        return (*colour, alpha)

    def lines(self, image, x, y, colour, width: float = 1.0, path=None, box: Box | None = None,
              xlim: Limits = DEFAULT_LIMITS, ylim: Limits = DEFAULT_LIMITS, alpha: float = 1.0) -> None:
        path = np.zeros(len(np.asarray(x).reshape(-1)), dtype=np.int64) if path is None else path
        for i, (xs, ys, ps) in self._groups(image, x, y, path):
            # A NaN vertex breaks a matplotlib line, which draws separate paths as one artist.
            breaks = np.flatnonzero(ps[1:] != ps[:-1]) + 1
            xs, ys = np.insert(xs.astype(float), breaks, np.nan), np.insert(ys.astype(float), breaks, np.nan)
            self._axes_for(i, box, xlim, ylim).plot(
                xs, ys, color=self._colour(colour, alpha), linewidth=width, solid_capstyle="round",
                solid_joinstyle="round", snap=False)

    def markers(self, image, x, y, colour, size: float = 3.0, box: Box | None = None,
                xlim: Limits = DEFAULT_LIMITS, ylim: Limits = DEFAULT_LIMITS, alpha: float = 1.0) -> None:
        from matplotlib.patches import PathPatch
        from matplotlib.path import Path
        from matplotlib.transforms import IdentityTransform

        # Discs as one path in pixel units: Agg's marker drawing rounds each centre to a whole pixel.
        disc = Path.circle(radius=size / 2)
        for i, (xs, ys) in self._groups(image, x, y):
            ax = self._axes_for(i, box, xlim, ylim)
            centres = ax.transData.transform(np.column_stack([xs, ys]).astype(float))
            vertices = (disc.vertices[None] + centres[:, None]).reshape(-1, 2)
            discs = Path(vertices, np.tile(disc.codes, len(xs)))
            # add_artist, not add_patch: the limits are fixed, and updating them from the discs' Bezier curves
            # would cost more than drawing them.
            ax.add_artist(PathPatch(discs, transform=IdentityTransform(), facecolor=self._colour(colour, alpha),
                                    linewidth=0, snap=False))

    def bars(self, image, x, y_low, y_high, colour, width: float = 1.0, box: Box | None = None,
             xlim: Limits = DEFAULT_LIMITS, ylim: Limits = DEFAULT_LIMITS, alpha: float = 1.0) -> None:
        for i, (xs, lo, hi) in self._groups(image, x, y_low, y_high):
            self._axes_for(i, box, xlim, ylim).vlines(
                xs, lo, hi, colors=[self._colour(colour, alpha)], linewidths=width, capstyle="butt", snap=False)

    def result(self, out: np.ndarray | None = None) -> np.ndarray:
        import matplotlib
        from matplotlib.backends.backend_agg import FigureCanvasAgg

        channels = self.shape[3]
        out = np.empty(self.shape, dtype=np.uint8) if out is None else out
        with matplotlib.rc_context({"path.simplify": False, "path.snap": False}):
            for i, figure in enumerate(self._figures[:len(out)]):
                canvas = FigureCanvasAgg(figure)
                canvas.draw()
                out[i] = np.asarray(canvas.buffer_rgba())[:, :, :channels]
        return out


CANVASES = {"fast": Canvas, "matplotlib": MatplotlibCanvas}


def make_canvas(renderer: str, batch: int, height: int, width: int, channels: int = 3) -> Canvas | MatplotlibCanvas:
    """A canvas of the named renderer: "fast" (compiled) or "matplotlib" (reference)."""
    if renderer not in CANVASES:
        raise ValueError(f"unknown renderer {renderer!r}; choose one of {sorted(CANVASES)}")
    return CANVASES[renderer](batch, height, width, channels=channels)


def ssim(a: np.ndarray, b: np.ndarray) -> float:
    """Mean structural similarity of two uint8 images (H, W) or (H, W, C), on their channel mean.

    Gaussian window with sigma 1.5 and constants K1 = 0.01, K2 = 0.03 (Wang et al. 2004), so renderers can be
    compared without another dependency.
    """
    x, y = (np.asarray(v, dtype=np.float64) for v in (a, b))
    if x.ndim == 3:
        x, y = x.mean(axis=2), y.mean(axis=2)
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    mu_x, mu_y = gaussian_filter(x, 1.5), gaussian_filter(y, 1.5)
    var_x = gaussian_filter(x * x, 1.5) - mu_x**2
    var_y = gaussian_filter(y * y, 1.5) - mu_y**2
    cov = gaussian_filter(x * y, 1.5) - mu_x * mu_y
    score = ((2 * mu_x * mu_y + c1) * (2 * cov + c2)) / ((mu_x**2 + mu_y**2 + c1) * (var_x + var_y + c2))
    return float(score.mean())
