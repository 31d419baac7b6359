"""Batched anti-aliased drawing of plots (lines, markers, error bars), and a matplotlib reference that draws the same.

Rendering light curves with matplotlib costs ~10 ms an image, too slow to make images on the fly for millions of
objects. :class:`Canvas` draws a whole batch at once: on the CPU with compiled loops that visit each fragment once
(:mod:`~astroflow.represent.raster_kernels`, 80-90 times faster than matplotlib on one core), on a GPU with a few
tensor operations per primitive kind; both compute the same fragments and coverages (to 1/255) from the same pixel
coordinates. :class:`MatplotlibCanvas` has the same interface and is kept as the reference.

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
import torch
from scipy.ndimage import gaussian_filter

from astroflow.represent import raster_kernels

Box = tuple[float, float, float, float]
Limits = tuple[float, float]
DEFAULT_LIMITS: Limits = (-0.05, 1.05)


def _ints(values) -> np.ndarray:
    return np.asarray(values, dtype=np.int64).reshape(-1)


def _ragged_range(start: torch.Tensor, count: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """For each item k, the integers start[k] .. start[k] + count[k] - 1; returns (item of each, the integer)."""
    item = torch.repeat_interleave(torch.arange(len(count), device=count.device), count)
    shift = start - (torch.cumsum(count, 0) - count)
    return item, shift.index_select(0, item) + torch.arange(len(item), device=count.device)


class Canvas:
    """A batch of images drawn with anti-aliasing: signed distances for lines and discs, exact area coverage for
    bars, evaluated only on each primitive's neighbourhood of pixels.

    ``compiled`` (the default on the CPU) draws with the loops of :mod:`~astroflow.represent.raster_kernels`, which
    keep each layer's coverage as 0..255; otherwise tensor operations draw on ``device``.
    """

    def __init__(self, batch: int, height: int, width: int, channels: int = 3, device: str | torch.device = "cpu",
                 compiled: bool | None = None):
        self.shape = (batch, height, width, channels)
        self.device = torch.device(device)
        self.compiled = self.device.type == "cpu" if compiled is None else compiled
        if self.compiled and self.device.type != "cpu":
            raise ValueError(f"the compiled kernels run on the CPU, not on {self.device}")
        self._layers: list[tuple[tuple[float, ...], float]] = []  # colour and alpha of each layer drawn
        if self.compiled:
            # Every layer keeps its coverage plane until the result composites them all in one pass.
            self._planes = np.zeros((0, batch * height * width), dtype=np.uint8)
        else:
            # Values are 0..255 plus 0.5 (blending commutes with the offset), so that truncating to uint8 rounds; one
            # plane per channel, so that blending a layer is one dense pass per channel.
            self._image = torch.full((channels, batch * height * width), 255.5, dtype=torch.float32,
                                     device=self.device)
            self._coverage = torch.zeros(batch * height * width, dtype=torch.float32, device=self.device)
            self._blended = 0  # layers already blended into the image

    def clear(self) -> None:
        """Back to white, to draw the next batch without allocating again."""
        if self.compiled:
            self._planes[:len(self._layers)] = 0
        else:
            self._image.fill_(255.5)
            self._coverage.zero_()
            self._blended = 0
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

    def _tensors(self, *arrays: np.ndarray) -> list[torch.Tensor]:
        return [torch.from_numpy(a).to(self.device) for a in arrays]

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
        ends = px[start], py[start], px[start + 1], py[start + 1]
        columns, rows = self._pixel_range(box)
        reach = width / 2 + 0.5
        # Pixels across the segment within reach / cos of its centre line: at most floor(2 * reach * sqrt 2) + 1.
        band = math.floor(2 * reach * math.sqrt(2)) + 1
        if min(columns[1] - columns[0], rows[1] - rows[0]) + 1 < band:
            raise ValueError(f"a panel narrower than {band} pixels cannot hold lines {width} pixels wide")
        self._start_layer(colour, alpha)
        if self.compiled:
            raster_kernels.segments(self._plane, base, *ends, columns, rows, self.shape[2], reach, band)
            return
        base, x0, y0, x1, y1 = self._tensors(base, *ends)
        steep = (y1 - y0).abs() > (x1 - x0).abs()
        shallow = ~steep
        # Walk shallow segments along columns and steep ones along rows; both go into the same layer.
        self._merge(*self._walk(base[shallow], x0[shallow], y0[shallow], x1[shallow], y1[shallow], columns, rows,
                                1, self.shape[2], reach, band))
        self._merge(*self._walk(base[steep], y0[steep], x0[steep], y1[steep], x1[steep], rows, columns,
                                self.shape[2], 1, reach, band))

    def _walk(self, base, u0, v0, u1, v1, u_range, v_range, u_stride: int, v_stride: int, reach: float,
              band: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Fragments of segments whose slope along u is at most 1: each pixel step along u, the ``band`` pixels
        across (v) within reach. Returns flat pixel indices and coverages, (band, column) arrays with the long axis
        last."""
        d_u, d_v = u1 - u0, v1 - v0
        length = torch.hypot(d_u, d_v)
        nonzero = length > 0
        lo = torch.ceil(torch.minimum(u0, u1) - reach - 0.5).long().clamp(min=u_range[0])
        hi = torch.floor(torch.maximum(u0, u1) + reach - 0.5).long().clamp(max=u_range[1])
        seg, u = _ragged_range(lo, (hi - lo + 1).clamp(min=0))
        a_u, a_v, d_u, d_v, cos_, sin_, half_length, base = (
            t.index_select(0, seg) for t in (
                u0, v0, torch.where(d_u == 0, 1.0, d_u), d_v, torch.where(nonzero, d_u / length, 1.0),
                torch.where(nonzero, d_v / length, 0.0), length / 2, base))
        # In-place steps below spare the allocations of a long chain of temporaries.
        pu = (u + 0.5).sub_(a_u)
        v = (pu / d_u).clamp_(0, 1).mul_(d_v).add_(a_v)  # the centre line, then the first pixel of the window
        # The window is shifted inside the box, so it never leaves the box and still holds every pixel in reach.
        v.sub_(reach * math.sqrt(2) + 0.5).ceil_().clamp_(v_range[0], v_range[1] - (band - 1))
        # Distance to the segment from across it and from beyond its ends along it.
        step = torch.arange(band, device=self.device)[:, None]
        pv = (v + 0.5).sub_(a_v)
        along = torch.addcmul(pu * cos_, pv, sin_).sub_(half_length)
        across = (pv * cos_).sub_(pu * sin_)
        beyond = torch.addcmul(along, step, sin_).abs_().sub_(half_length).clamp_(min=0)
        cover = torch.addcmul(across, step, cos_)
        cover = torch.hypot(cover, beyond, out=cover).neg_().add_(reach).clamp_(0, 1)
        index = (u * u_stride).add_(base).add_(v.long() * v_stride) + step * v_stride
        return index, cover

    def markers(self, image, x, y, colour, size: float = 3.0, box: Box | None = None,
                xlim: Limits = DEFAULT_LIMITS, ylim: Limits = DEFAULT_LIMITS, alpha: float = 1.0) -> None:
        """Filled discs of diameter ``size`` centred on the points."""
        _, height, width, _ = self.shape
        base = _ints(image) * (height * width)
        px, py = self._to_pixels(x, y, box, xlim, ylim)
        columns, rows = self._pixel_range(box)
        reach = size / 2 + 0.5
        span = math.floor(2 * reach) + 1
        self._start_layer(colour, alpha)
        if self.compiled:
            raster_kernels.discs(self._plane, base, px, py, columns, rows, width, reach, span)
            return
        base, px, py = self._tensors(base, px, py)
        # Arrays are (row offset, column offset, point), the long axis last.
        offset = torch.arange(span, device=self.device)[:, None]
        col = (torch.ceil(px - reach - 0.5).long() + offset).clamp(*columns)
        row = (torch.ceil(py - reach - 0.5).long() + offset).clamp(*rows)
        dx2 = (col + 0.5 - px) ** 2
        dy2 = (row + 0.5 - py) ** 2
        cover = (reach - torch.sqrt(dy2[:, None] + dx2[None])).clamp(0, 1)
        self._merge((base + row * width)[:, None] + col[None], cover)

    def bars(self, image, x, y_low, y_high, colour, width: float = 1.0, box: Box | None = None,
             xlim: Limits = DEFAULT_LIMITS, ylim: Limits = DEFAULT_LIMITS, alpha: float = 1.0) -> None:
        """Vertical bars (error bars) from ``y_low`` to ``y_high`` at ``x``, butt ends, exact area coverage."""
        _, height, width_px, _ = self.shape
        base = _ints(image) * (height * width_px)
        px, top = self._to_pixels(x, y_high, box, xlim, ylim)
        _, bottom = self._to_pixels(x, y_low, box, xlim, ylim)
        columns, rows = self._pixel_range(box)
        top, bottom = (np.clip(t, rows[0], rows[1] + 1) for t in (np.minimum(top, bottom), np.maximum(top, bottom)))
        half, span = width / 2, math.ceil(width) + 1
        self._start_layer(colour, alpha)
        if self.compiled:
            raster_kernels.bars(self._plane, base, px, top, bottom, columns, rows, width_px, half, span)
            return
        base, px, top, bottom = self._tensors(base, px, top, bottom)
        first_row = torch.floor(top).long()
        bar, row = _ragged_range(first_row, (torch.ceil(bottom).long() - first_row).clamp(min=0))
        top, bottom = top.index_select(0, bar), bottom.index_select(0, bar)
        cover_y = torch.minimum(row + 1.0, bottom) - torch.maximum(row.float(), top)
        # Arrays are (column offset, row of a bar), the long axis last.
        offset = torch.arange(span, device=self.device)[:, None]
        col = torch.floor(px - half).long() + offset
        cover_x = (torch.minimum(col + 1.0, px + half) - torch.maximum(col.float(), px - half))
        cover_x = cover_x.clamp(0, 1) * ((col >= columns[0]) & (col <= columns[1]))
        index = (base.index_select(0, bar) + row * width_px) + col.clamp(*columns).index_select(1, bar)
        self._merge(index, cover_x.index_select(1, bar) * cover_y.clamp(0, 1))

    @property
    def _plane(self) -> np.ndarray:
        """The current layer's coverage plane (compiled kernels)."""
        return self._planes[len(self._layers) - 1]

    @property
    def _full_box(self) -> Box:
        return (0.0, 0.0, float(self.shape[2]), float(self.shape[1]))

    def _start_layer(self, colour, alpha: float) -> None:
        """A new colour or alpha starts a new layer; the same continues the current one."""
        layer = (tuple(np.broadcast_to(np.asarray(colour, dtype=float).reshape(-1), (self.shape[3],))), alpha)
        if self._layers and layer == self._layers[-1]:
            return
        if not self.compiled:
            self._blend()
        elif len(self._layers) == len(self._planes):
            self._planes = np.concatenate([self._planes, np.zeros((1, self._planes.shape[1]), dtype=np.uint8)])
        self._layers.append(layer)

    def _merge(self, index: torch.Tensor, cover: torch.Tensor) -> None:
        """Merge fragments into the current layer by maximum coverage.

        Fragments outside the box carry the coverage of the border pixel they were clamped to, so none needs to be
        removed.
        """
        self._coverage.scatter_reduce_(0, index.reshape(-1), cover.reshape(-1), "amax")

    def _colours(self) -> np.ndarray:
        """The layers' colours (layers, channels) as 0..255 plus 0.5 (blending commutes with the offset, and then
        truncating to uint8 rounds)."""
        return np.array([colour for colour, _ in self._layers], dtype=np.float32).reshape(-1, self.shape[3]) * 255 + 0.5

    def _blend(self) -> None:
        """Blend the last layer over the image if not done yet: a few dense passes, cheaper than gathering and
        scattering the fragments of a typical plot."""
        if self._blended == len(self._layers):
            return
        alpha = self._layers[-1][1]
        if alpha != 1:
            self._coverage.mul_(alpha)
        colour = torch.from_numpy(self._colours()[-1]).to(self.device)[:, None]
        self._image.lerp_(colour.expand_as(self._image), self._coverage.expand_as(self._image))
        self._coverage.zero_()
        self._blended = len(self._layers)

    def result(self, out: np.ndarray | None = None) -> np.ndarray:
        """The images, (batch, height, width, channels) uint8; written into ``out`` (its first images) if given."""
        batch, height, width, channels = self.shape
        out = np.empty(self.shape, dtype=np.uint8) if out is None else out
        if self.compiled:
            image = out if out.flags.c_contiguous else np.empty_like(out)  # the kernel writes through a flat view
            alphas = np.array([alpha for _, alpha in self._layers], dtype=np.float32)
            raster_kernels.composite(image.reshape(-1, channels), self._planes[:len(self._layers), :image[..., 0].size],
                                     self._colours(), alphas)
            if image is not out:
                out[...] = image
            return out
        self._blend()
        planes = self._image.reshape(channels, batch, height, width)[:, :len(out)].cpu().numpy().astype(np.uint8)
        for c in range(channels):  # one channel at a time: much faster than one strided transposing copy
            out[..., c] = planes[c]
        return out


class MatplotlibCanvas:
    """The reference: the same draw calls made with matplotlib's Agg backend, one figure per image, no axes."""

    def __init__(self, batch: int, height: int, width: int, channels: int = 3, device=None):
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


def make_canvas(renderer: str, batch: int, height: int, width: int, channels: int = 3,
                device: str | torch.device = "cpu") -> Canvas | MatplotlibCanvas:
    """A canvas of the named renderer: "fast" (vectorised) or "matplotlib" (reference)."""
    if renderer not in CANVASES:
        raise ValueError(f"unknown renderer {renderer!r}; choose one of {sorted(CANVASES)}")
    return CANVASES[renderer](batch, height, width, channels=channels, device=device)


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
