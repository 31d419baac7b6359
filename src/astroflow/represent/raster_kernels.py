"""The drawing loops of :class:`~astroflow.represent.raster.Canvas`, compiled by numba (cached on disk after the
first call).

Why compiled loops: array code (NumPy or PyTorch) makes one pass over every fragment per operation, tens of
thousands of fragments an image, and one pass over every pixel per layer and channel; it drew 11-13 times faster
than matplotlib on one core. These loops visit each fragment once and composite all layers in one pass over the
pixels: 70-90 times faster than matplotlib (``bench/bench_render.py``). A layer is a plane of coverages 0..255 (flat
pixel index ``(image * height + row) * width + column``) into which fragments are merged by maximum.
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit

SQRT2 = math.sqrt(2)


@njit(cache=True)
def _quantised(cover):
    """A coverage as 0..255, rounded, from any value (clamped to 0..1)."""
    return np.uint8(min(max(cover, 0.0), 1.0) * 255 + 0.5)


@njit(cache=True, fastmath=True)
def segments(coverage, base, x0, y0, x1, y1, columns, rows, width, reach, band):
    """Segments ``(x0, y0)-(x1, y1)`` in pixel coordinates of the image starting at flat pixel ``base``, clipped to
    ``columns`` and ``rows`` (first and last, inclusive) of an image ``width`` pixels wide, with coverage
    ``reach - distance`` to the segment.

    A segment is walked along its long axis u (columns if shallow, rows if steep), one pixel a step; at each step
    the ``band`` pixels across (v) from the first within reach of its centre line. That window is shifted inside the
    box, so it never leaves it and still holds every pixel in reach. Each segment's steps are computed in loops
    without branches (vectorised), then merged one by one.
    """
    steps = max(columns[1] - columns[0], rows[1] - rows[0]) + 1
    first, across, along = np.empty(steps), np.empty(steps), np.empty(steps)
    cover = np.empty((band, steps))
    for k in range(len(x0)):
        if abs(y1[k] - y0[k]) > abs(x1[k] - x0[k]):  # steep: walk the rows, columns across
            u0, v0, u1, v1 = y0[k], x0[k], y1[k], x1[k]
            u_range, v_range, u_stride, v_stride = rows, columns, width, 1
        else:
            u0, v0, u1, v1 = x0[k], y0[k], x1[k], y1[k]
            u_range, v_range, u_stride, v_stride = columns, rows, 1, width
        d_u, d_v = u1 - u0, v1 - v0
        length = math.sqrt(d_u * d_u + d_v * d_v)  # math.hypot guards against overflow, at several times the cost
        cos_, sin_ = (d_u / length, d_v / length) if length > 0 else (1.0, 0.0)
        half_length = length / 2
        slope_u = d_u if d_u != 0 else 1.0
        lo = max(math.ceil(min(u0, u1) - reach - 0.5), u_range[0])
        count = min(math.floor(max(u0, u1) + reach - 0.5), u_range[1]) - lo + 1
        for i in range(count):
            pu = lo + i + 0.5 - u0
            centre = min(max(pu / slope_u, 0.0), 1.0) * d_v + v0
            first[i] = min(max(math.ceil(centre - reach * SQRT2 - 0.5), v_range[0]), v_range[1] - (band - 1))
            pv = first[i] + 0.5 - v0
            across[i] = pv * cos_ - pu * sin_
            along[i] = pu * cos_ + pv * sin_ - half_length
        # Distance to the segment from across it, and from beyond its ends along it (zero between them).
        for step in range(band):
            for i in range(count):
                beyond = max(abs(along[i] + step * sin_) - half_length, 0.0)
                distance = math.sqrt((across[i] + step * cos_) ** 2 + beyond * beyond)
                cover[step, i] = min(max(reach - distance, 0.0), 1.0) * 255 + 0.5
        for i in range(count):
            pixel = base[k] + (lo + i) * u_stride + int(first[i]) * v_stride
            for step in range(band):
                coverage[pixel] = max(coverage[pixel], np.uint8(cover[step, i]))
                pixel += v_stride


@njit(cache=True)
def discs(coverage, base, px, py, columns, rows, width, reach, span):
    """Discs of radius ``reach - 0.5`` centred on ``(px, py)``, ``span`` pixels square each. Pixels outside
    ``columns`` and ``rows`` are clamped to the border pixel and so merge that pixel's own coverage again."""
    for k in range(len(px)):
        first_col = math.ceil(px[k] - reach - 0.5)
        first_row = math.ceil(py[k] - reach - 0.5)
        for i in range(span):
            row = min(max(first_row + i, rows[0]), rows[1])
            dy = row + 0.5 - py[k]
            for j in range(span):
                col = min(max(first_col + j, columns[0]), columns[1])
                dx = col + 0.5 - px[k]
                pixel = base[k] + row * width + col
                coverage[pixel] = max(coverage[pixel], _quantised(reach - math.sqrt(dx * dx + dy * dy)))


@njit(cache=True)
def bars(coverage, base, px, top, bottom, columns, rows, width, half, span):
    """Vertical bars from row coordinate ``top`` to ``bottom`` (already clipped), ``2 * half`` wide, exact area
    coverage over ``span`` columns each."""
    for k in range(len(px)):
        first_col = math.floor(px[k] - half)
        for row in range(math.floor(top[k]), math.ceil(bottom[k])):
            cover_y = min(max(min(row + 1.0, bottom[k]) - max(float(row), top[k]), 0.0), 1.0)
            for col in range(max(first_col, columns[0]), min(first_col + span - 1, columns[1]) + 1):
                cover_x = min(max(min(col + 1.0, px[k] + half) - max(float(col), px[k] - half), 0.0), 1.0)
                pixel = base[k] + row * width + col
                coverage[pixel] = max(coverage[pixel], _quantised(cover_x * cover_y))


@njit(cache=True, fastmath=True)
def composite(out, layers, colours, alphas, block=4096):
    """``out`` (pixels, channels) uint8: each layer's colour (channels,) composited over white in order, by its
    coverage (0..255) times its alpha; colours are 0..255 plus 0.5, so that truncating rounds."""
    pixels, channels = out.shape
    weights = alphas / 255
    # Plane by plane over blocks of pixels small enough to stay in cache, so that the loops over pixels are
    # vectorised.
    value = np.empty((channels, block), dtype=np.float32)
    for start in range(0, pixels, block):
        size = min(block, pixels - start)
        for c in range(channels):
            plane = value[c, :size]
            plane[:] = 255.5
            for layer in range(len(layers)):
                colour, weight, coverage = colours[layer, c], weights[layer], layers[layer, start:start + size]
                for pixel in range(size):
                    plane[pixel] += (colour - plane[pixel]) * (coverage[pixel] * weight)
        block_out = out[start:start + size]
        if channels == 3:  # spelt out, so that the interleaving store is vectorised too
            red, green, blue = value[0], value[1], value[2]
            for pixel in range(size):
                block_out[pixel, 0] = np.uint8(red[pixel])
                block_out[pixel, 1] = np.uint8(green[pixel])
                block_out[pixel, 2] = np.uint8(blue[pixel])
        else:
            for c in range(channels):
                for pixel in range(size):
                    block_out[pixel, c] = np.uint8(value[c, pixel])
