"""The one plotting style of every report figure: sizes, fonts, colours, and how a figure is saved.

Every figure module draws with :func:`figure` and writes with :func:`save`, so the report looks like one
document; band colours are the light-curve renderer's, so a band has the same colour in a light curve and in
the images a model reads.
"""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib
import numpy as np
from matplotlib.figure import Figure

from astroflow.represent.images import BAND_COLOURS

RC = {
    "figure.dpi": 100,
    "savefig.dpi": 110,
    "font.size": 8,
    "axes.titlesize": 8,
    "axes.labelsize": 8,
    "xtick.labelsize": 7,
    "ytick.labelsize": 7,
    "legend.fontsize": 7,
    "legend.frameon": False,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.25,
    "grid.linewidth": 0.5,
    "lines.linewidth": 1.0,
    "image.cmap": "viridis",
}
PANEL = (2.4, 2.0)  # inches per panel
SEQUENTIAL = "viridis"  # maps of counts and scores, with a colour bar
CONFUSION = "Blues"
RAW, CALIBRATED = "tab:blue", "tab:orange"  # a model's own probabilities, and after calibration
OUTCOME = {"right": "tab:green", "wrong": "tab:red"}  # predictions that were right or wrong


def figure(rows: int = 1, cols: int = 1, panel: tuple[float, float] = PANEL, **kwargs):
    """A figure of ``rows`` x ``cols`` panels in the report's style; axes always a 2-D array. A plain Figure (no
    pyplot), so no display backend is involved and nothing stays open."""
    matplotlib.rcParams.update(RC)
    fig = Figure(figsize=(panel[0] * cols, panel[1] * rows), layout="constrained")
    return fig, fig.subplots(rows, cols, squeeze=False, **kwargs)


def save(fig, path: str | Path, title: str | None = None) -> None:
    """Write ``fig`` as PNG (folders made), with an optional figure title."""
    if title:
        fig.suptitle(title, fontsize=9)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, bbox_inches="tight")


def band_colour(code: int) -> str:
    return BAND_COLOURS[code % len(BAND_COLOURS)]


def class_colours(n: int) -> list:
    """Distinct colours for ``n`` classes (tab10, then tab20 beyond ten)."""
    cmap = matplotlib.colormaps["tab10" if n <= 10 else "tab20"]
    return [cmap(i % cmap.N) for i in range(n)]


def hide_unused(axes: np.ndarray, used: int) -> None:
    """Turn off the panels of a grid beyond the first ``used``."""
    for ax in axes.ravel()[used:]:
        ax.axis("off")


def grid_shape(n: int, max_cols: int = 4) -> tuple[int, int]:
    cols = min(n, max_cols)
    return -(-n // cols), cols


def matrix(ax, values: np.ndarray, rows: Sequence[str], cols: Sequence[str], cmap: str = SEQUENTIAL,
           vmin: float = 0.0, vmax: float = 1.0, label: str = "", fmt: str = "{:.2f}"):
    """A labelled heat map with its value written in each cell and a colour bar named ``label``."""
    image = ax.imshow(values, cmap=cmap, vmin=vmin, vmax=vmax, aspect="auto")
    ax.set_xticks(range(len(cols)), cols, rotation=90)
    ax.set_yticks(range(len(rows)), rows)
    ax.grid(False)
    if values.size <= 400:
        for (i, j), v in np.ndenumerate(values):
            if np.isfinite(v):
                dark = (v - vmin) / max(vmax - vmin, 1e-12) > 0.6
                ax.text(j, i, fmt.format(v), ha="center", va="center", fontsize=5,
                        color="white" if dark else "black")
    ax.figure.colorbar(image, ax=ax, label=label, fraction=0.046, pad=0.04)
    return image


def identity(ax, low: float, high: float) -> None:
    """The dashed line y = x from ``low`` to ``high``: perfect calibration, or prediction equal to truth."""
    ax.plot([low, high], [low, high], color="k", ls="--", lw=0.8)


def band_line(code: int, name: str):
    """A legend entry for band ``code``."""
    from matplotlib.lines import Line2D

    return Line2D([], [], color=band_colour(code), marker="o", ms=3, lw=0.8, label=name)
