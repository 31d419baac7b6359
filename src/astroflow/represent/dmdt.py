"""DmDt maps (Mahabal et al. 2017, arXiv:1709.06257): 2-D histograms of (dt, dm) over all pairs of points.

The binning follows ``light_curve.DmDt`` (the ``light-curve`` package) so that maps agree with it: for a pair
of points i < j of a sorted series, dt = t_j - t_i and dm = m_j - m_i; a cell holds its left edge and not its
right one; a log grid places x by trunc((log10 x - log10 start) / step) and a linear grid by
trunc((x - start) / step), as light_curve does; any other grid is given by its edges. Normalisations, also as
light_curve: "dt" divides each dt row by the number of pairs in that dt range (whatever their dm), "max"
divides by the map's maximum, after "dt" when both are given; "pairs" (not in light_curve) divides by the
number of all pairs, n (n - 1) / 2, as Mahabal et al. do. Empty rows and maps stay zero. Maps come out in
float32 and equal light_curve's float64 maps (given float64 times and magnitudes) rounded to float32; the
tests check this on random light curves and on pairs that fall exactly on cell edges.

All pairs of all light curves are visited lag by lag with NumPy (pairs (i, i + k) for k = 1, 2, ...), and a
point stops pairing once dt reaches the end of the dt grid, so the work is the number of pairs in the map.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from astroflow.ragged import Ragged
from astroflow.represent.dtdm import Series, series

NORMS = ("dt", "max", "pairs")
_FLUSH = 1 << 22  # pairs to collect before a bincount


@dataclass(frozen=True)
class Grid:
    """Cell edges along one axis of the map, and how a value finds its cell."""

    edges: np.ndarray  # float64 (n_cells + 1,), ascending
    kind: str          # "linear", "log" or "edges"

    @classmethod
    def linear(cls, start: float, end: float, n: int) -> Grid:
        if not end > start or n < 1:
            raise ValueError(f"a linear grid needs end > start and n >= 1, got {start}, {end}, {n}")
        return cls(np.linspace(start, end, n + 1), "linear")

    @classmethod
    def log(cls, start: float, end: float, n: int) -> Grid:
        if not end > start > 0 or n < 1:
            raise ValueError(f"a log grid needs end > start > 0 and n >= 1, got {start}, {end}, {n}")
        edges = np.logspace(np.log10(start), np.log10(end), n + 1)
        edges[0], edges[-1] = start, end
        return cls(edges, "log")

    @classmethod
    def from_edges(cls, edges: Sequence[float]) -> Grid:
        edges = np.asarray(edges, dtype=np.float64)
        if edges.ndim != 1 or len(edges) < 2 or not np.all(np.diff(edges) > 0):
            raise ValueError(f"grid edges must be at least two strictly ascending numbers, got {edges}")
        return cls(edges, "edges")

    @property
    def n(self) -> int:
        return len(self.edges) - 1

    def cells(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Cell of each value (meaningless outside the grid) and whether it is inside [first edge, last edge)."""
        start, end = self.edges[0], self.edges[-1]
        inside = (x >= start) & (x < end)
        if self.kind == "edges":
            return np.searchsorted(self.edges, x, side="right") - 1, inside
        with np.errstate(divide="ignore", invalid="ignore"):  # values outside the grid are flagged, not used
            if self.kind == "log":
                lg_start = np.log10(start)
                i = np.log10(x)
                i -= lg_start
                i /= (np.log10(end) - lg_start) / self.n
            else:
                i = x - start
                i /= (end - start) / self.n
            i = i.astype(np.int64)  # truncates toward zero, as light_curve
        return np.minimum(i, self.n - 1, out=i), inside


def symmetric_log_edges(min_abs: float, max_abs: float, n_per_side: int) -> np.ndarray:
    """dm edges log-spaced from min_abs to max_abs on both sides of 0, with the cells [-min_abs, 0), [0, min_abs)."""
    side = np.geomspace(min_abs, max_abs, n_per_side)
    return np.concatenate([-side[::-1], [0.0], side])


class DmDt:
    """Maker of DmDt maps of shape (n_dt, n_dm) for many light curves at once."""

    def __init__(self, dt: Grid, dm: Grid, norm: Sequence[str] = ()):
        unknown = set(norm) - set(NORMS)
        if unknown or {"dt", "pairs"} <= set(norm):
            raise ValueError(f"norm must be a subset of {NORMS} without both 'dt' and 'pairs', got {list(norm)}")
        self.dt, self.dm, self.norm = dt, dm, tuple(norm)

    @classmethod
    def from_borders(cls, min_lgdt: float, max_lgdt: float, max_abs_dm: float, lgdt_size: int, dm_size: int,
                     norm: Sequence[str] = ()) -> DmDt:
        """Log dt grid [10^min_lgdt, 10^max_lgdt) and linear dm grid [-max_abs_dm, max_abs_dm), as light_curve."""
        return cls(Grid.log(10.0 ** min_lgdt, 10.0 ** max_lgdt, lgdt_size),
                   Grid.linear(-max_abs_dm, max_abs_dm, dm_size), norm)

    @property
    def shape(self) -> tuple[int, int]:
        return self.dt.n, self.dm.n

    def maps(self, ragged: Ragged, per_band: bool = False, repair: bool = False) -> np.ndarray:
        """float32 maps (B, n_dt, n_dm), or (B, n_bands, n_dt, n_dm) with one map per band.

        Input rules as :func:`astroflow.represent.dtdm.series`: non-finite, unsorted or repeated times are an
        InputError unless ``repair``. A light curve of fewer than two points gives an all-zero map.
        """
        s = series(ragged, per_band, repair)
        out = np.zeros((len(s.row_size), *self.shape), dtype=np.float32)
        for rows, part in s.chunks(max(1, (1 << 20) // (self.dt.n * self.dm.n))):  # bounds the bincount length
            counts, dt_counts = self._counts(part)
            if "pairs" in self.norm:
                n = part.row_size
                counts /= np.maximum(n * (n - 1) / 2, 1)[:, None, None]
            if "dt" in self.norm:
                counts /= np.maximum(dt_counts, 1)[:, :, None]
            if "max" in self.norm:
                counts /= np.maximum(counts.max(axis=(1, 2), initial=0), np.finfo(np.float64).tiny)[:, None, None]
            out[rows] = counts
        return s.fold(out)

    def _counts(self, s: Series) -> tuple[np.ndarray, np.ndarray]:
        """Pair counts per (series, dt cell, dm cell), and per (series, dt cell) whatever dm (float64)."""
        n_dt, n_dm = self.shape
        n_series = len(s.row_size)
        counts, dt_counts = np.zeros(n_series * n_dt * n_dm), np.zeros(n_series * n_dt)
        series_of = np.repeat(np.arange(n_series), s.row_size)
        end_of = np.repeat(s.offset + s.row_size, s.row_size)
        dt_end = self.dt.edges[-1]
        active = np.flatnonzero(np.arange(len(s.time)) + 1 < end_of)  # first points of pairs still to visit
        cells, dt_cells, held = [], [], 0
        lag = 1
        while active.size:
            later = active + lag
            dt = s.time[later] - s.time[active]
            i_dt, in_dt = self.dt.cells(dt)
            i_dm, in_dm = self.dm.cells(s.value[later] - s.value[active])
            row = series_of[active] * n_dt + i_dt
            cells.append((row * n_dm + i_dm)[in_dt & in_dm])
            if "dt" in self.norm:
                dt_cells.append(row[in_dt])
            held += len(active)
            lag += 1
            active = active[(dt < dt_end) & (active + lag < end_of[active])]  # sorted: later partners are further
            if held > _FLUSH or not active.size:
                counts += np.bincount(np.concatenate(cells), minlength=len(counts))
                if dt_cells:
                    dt_counts += np.bincount(np.concatenate(dt_cells), minlength=len(dt_counts))
                cells, dt_cells, held = [], [], 0
        return counts.reshape(n_series, n_dt, n_dm), dt_counts.reshape(n_series, n_dt)
