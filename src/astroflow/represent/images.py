"""Light curves drawn as RGB images for image models (SwinV2 on light-curve images, arXiv:2502.20479).

Each object is scaled on its own: time to [0, 1] over all its observations, values to [0, 1] over all its bands
(``scale="object"``, keeps the colours between bands) or each band on its own (``scale="band"``); errors are
scaled by the same factor as the values. Magnitudes are flipped so that brighter is up. Axis limits are
-0.05..1.05 on both axes, so nothing touches the border. Per band, in band order: error bars, then the line through
the points, then the markers, each in the band's colour on white. A width or size of 0 leaves that element out.

Layouts: ``"overlay"`` (every band on one panel), ``"stacked"`` (one full-width panel per band, top to bottom) and
``"grid"`` (``rows x cols`` panels filled row by row, 2x3 for six bands). A band without observations is a blank
panel (nothing drawn for it in the overlay); an object without observations is a blank image.

Degenerate input has a defined picture: a single time (one point, or all at the same time) is centred at x = 0.5;
constant values are centred at y = 0.5, with the largest error bar then spanning 0..1 (or no bars if all errors are
0); repeated times are drawn as they come. Non-finite times, values or errors (so also an all-NaN band), negative
errors, times out of order and band codes out of range are refused with an :class:`~astroflow.errors.InputError`
naming the object, observation and field: dropping them is the cleaning stage's job, which records it.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.colors import to_rgb

from astroflow.errors import ConfigError, InputError
from astroflow.ragged import Ragged
from astroflow.represent.raster import DEFAULT_LIMITS, Box, Limits, make_canvas

# Fixed band colours (matplotlib's tab10 order, blue and red first for two-band surveys such as MACHO B, R).
BAND_COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
                "#bcbd22", "#17becf")
LAYOUTS = ("overlay", "stacked", "grid")


def render_lightcurves(lightcurves: Ragged | Sequence[Mapping[str, np.ndarray]], layout: str = "overlay",
                       size: int | tuple[int, int] = 256, renderer: str = "fast", *, n_bands: int | None = None,
                       grid: tuple[int, int] | None = None, colours: Sequence | None = None,
                       magnitudes: bool = True, scale: str = "object", line_width: float = 1.0,
                       marker_size: float = 3.0, errorbar_width: float = 1.0, alpha: float = 1.0,
                       limits: Limits = DEFAULT_LIMITS, batch_size: int = 16) -> np.ndarray:
    """Images (objects, height, width, 3) uint8 of the light curves.

    ``lightcurves`` is a :class:`Ragged` or a sequence of per-object mappings with ``time``, ``value``, ``error``
    and ``band`` (integer codes). ``renderer`` is ``"fast"`` (compiled) or ``"matplotlib"`` (reference).
    ``n_bands`` defaults to the Ragged's band names, else the largest code + 1; ``grid`` is (rows, cols).
    """
    ragged = lightcurves if isinstance(lightcurves, Ragged) else _to_ragged(lightcurves)
    n_bands = n_bands or len(ragged.bands) or int(ragged.band.max(initial=-1)) + 1
    height, width = (size, size) if isinstance(size, int) else size
    boxes = panel_boxes(layout, n_bands, height, width, grid)
    colours = [to_rgb(c) for c in (colours or BAND_COLOURS)]
    if len(colours) < n_bands:
        raise ValueError(f"{n_bands} bands but only {len(colours)} colours")
    if scale not in ("object", "band"):
        raise ValueError(f"unknown scale {scale!r}; choose 'object' or 'band'")
    _check(ragged, n_bands)
    out = np.empty((len(ragged), height, width, 3), dtype=np.uint8)
    canvas = make_canvas(renderer, min(batch_size, len(ragged)), height, width)
    for start in range(0, len(ragged), batch_size):
        chunk = ragged.subset(np.arange(start, min(start + batch_size, len(ragged))))
        x, y, err = _scaled(chunk, n_bands, magnitudes, scale)
        image = chunk.owner
        if start:
            canvas.clear()
        for b in range(n_bands):
            chosen = chunk.band == b
            if not chosen.any():
                continue
            i, xb, yb, eb = image[chosen], x[chosen], y[chosen], err[chosen]
            where = {"box": boxes[b], "xlim": limits, "ylim": limits, "alpha": alpha}
            if errorbar_width > 0:
                canvas.bars(i, xb, yb - eb, yb + eb, colours[b], width=errorbar_width, **where)
            if line_width > 0:
                canvas.lines(i, xb, yb, colours[b], width=line_width, **where)
            if marker_size > 0:
                canvas.markers(i, xb, yb, colours[b], size=marker_size, **where)
        canvas.result(out[start:start + len(chunk)])
    return out


def panel_boxes(layout: str, n_bands: int, height: int, width: int,
                grid: tuple[int, int] | None = None) -> list[Box]:
    """The pixel box (left, top, width, height) each band is drawn in."""
    if layout == "overlay":
        return [(0.0, 0.0, float(width), float(height))] * n_bands
    if layout == "stacked":
        return [(0.0, k * height / n_bands, float(width), height / n_bands) for k in range(n_bands)]
    if layout == "grid":
        rows, cols = grid or default_grid(n_bands)
        if rows * cols < n_bands:
            raise ConfigError("represent.image.grid", f"a {rows}x{cols} grid has no room for {n_bands} bands")
        return [((k % cols) * width / cols, (k // cols) * height / rows, width / cols, height / rows)
                for k in range(n_bands)]
    raise ValueError(f"unknown layout {layout!r}; choose one of {LAYOUTS}")


def default_grid(n_bands: int) -> tuple[int, int]:
    """Rows and columns for ``n_bands`` panels, wider than tall: 2x3 for six bands, 1x2 for two."""
    rows = max(1, int(np.sqrt(n_bands)))
    return rows, -(-n_bands // rows)


def _to_ragged(objects: Sequence[Mapping[str, np.ndarray]]) -> Ragged:
    def joined(key, dtype):
        return np.concatenate([np.asarray(o[key], dtype=dtype).reshape(-1) for o in objects] or [np.zeros(0, dtype)])

    return Ragged(time=joined("time", np.float64), value=joined("value", np.float32),
                  error=joined("error", np.float32), band=joined("band", np.int64),
                  row_size=[len(np.asarray(o["time"]).reshape(-1)) for o in objects])


def _check(ragged: Ragged, n_bands: int) -> None:
    """Refuse observations that cannot be drawn, naming the first object and field at fault."""
    earlier = np.zeros(len(ragged.time), dtype=bool)
    earlier[1:] = ragged.time[1:] < ragged.time[:-1]
    earlier[ragged.offset[ragged.row_size > 0]] = False  # an object's first observation follows another object
    tests = [("time", ~np.isfinite(ragged.time), "is not finite"),
             ("time", earlier, "is earlier than the one before (times must be sorted)"),
             ("value", ~np.isfinite(ragged.value), "is not finite"),
             ("error", ~(np.isfinite(ragged.error) & (ragged.error >= 0)), "is negative or not finite"),
             ("band", (ragged.band < 0) | (ragged.band >= n_bands), f"is not a band code in 0..{n_bands - 1}")]
    for name, bad, problem in tests:
        if bad.any():
            first = int(np.argmax(bad))
            obj, position = ragged.locate(first)
            raise InputError(f"light curve {ragged.object_id[obj]}", f"observation {position} {problem}", field=name)


def _group_range(values: np.ndarray, group: np.ndarray, n_groups: int) -> tuple[np.ndarray, np.ndarray]:
    low, high = np.full(n_groups, np.inf), np.full(n_groups, -np.inf)
    np.minimum.at(low, group, values)
    np.maximum.at(high, group, values)
    empty = low > high
    low[empty], high[empty] = 0.0, 0.0
    return low, high


def _scaled(ragged: Ragged, n_bands: int, magnitudes: bool, scale: str) -> tuple[np.ndarray, ...]:
    """Per-object x, y and error in [0, 1] units (see the module docstring for degenerate cases)."""
    obj = ragged.owner
    t_low, t_high = _group_range(ragged.time, obj, len(ragged))
    t_span = np.where(t_high > t_low, t_high - t_low, 1.0)
    x = (ragged.time - (t_low + t_high)[obj] / 2) / t_span[obj] + 0.5

    group = obj if scale == "object" else obj * n_bands + ragged.band
    n_groups = len(ragged) * (1 if scale == "object" else n_bands)
    value, error = ragged.value.astype(np.float64), ragged.error.astype(np.float64)
    v_low, v_high = _group_range(value, group, n_groups)
    largest_error = _group_range(error, group, n_groups)[1]
    v_span = np.where(v_high > v_low, v_high - v_low, np.where(largest_error > 0, 2 * largest_error, 1.0))
    y = (value - (v_low + v_high)[group] / 2) / v_span[group]
    y = 0.5 - y if magnitudes else 0.5 + y
    return x, y, error / v_span[group]
