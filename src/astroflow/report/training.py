"""Report figures of training: loss curves of pretraining and fine-tuning runs, from their metrics.csv alone.

A metrics.csv (astroflow.train.trainer) has a row per step with ``loss`` and, at validation steps, ``val_*``
columns; independent multiband pretraining adds an ``encoder`` column (one run per band encoder).
"""
from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from astroflow.errors import InputError
from astroflow.report import style

SMOOTH = 25  # steps of the running mean drawn through the per-step training loss


def read_metrics(path: str | Path) -> pd.DataFrame:
    try:
        table = pd.read_csv(path)
    except (OSError, ValueError) as err:
        raise InputError(path, f"is not a training run's metrics.csv ({err})") from err
    if not {"step", "loss"} <= set(table.columns):
        raise InputError(path, f"has no step and loss columns (it has {list(table.columns)})")
    return table


def loss_curves(paths: Sequence[str | Path], labels: Sequence[str], panels: Sequence[str], out_png: str | Path,
                title: str, out_tables: str | Path | None = None) -> None:
    """Training loss (a running mean, per step) and validation loss of every run: run ``paths[i]`` is drawn as
    ``labels[i]`` in the panel ``panels[i]`` (e.g. one panel per model and initialisation, a line per labelled-set
    size, fold and seed). With ``out_tables``, each run's step, loss and validation columns are also written there
    as ``<panel> <label>.csv`` (the curves ``dvc plots show`` draws)."""
    if not (len(paths) == len(labels) == len(panels)):
        raise ValueError("paths, labels and panels must be as long as each other")
    if out_tables:
        Path(out_tables).mkdir(parents=True, exist_ok=True)
        for path, label, panel in zip(paths, labels, panels):
            table = read_metrics(path)
            keep = ["step", "loss", *(c for c in table.columns if c.startswith("val_") or c == "encoder")]
            name = re.sub(r"[^A-Za-z0-9_.=-]+", "_", f"{panel} {label}").strip("_")
            table[keep].to_csv(Path(out_tables) / f"{name}.csv", index=False)
    names = list(dict.fromkeys(panels))
    rows, cols = style.grid_shape(len(names), 3)
    fig, axes = style.figure(rows, cols, panel=(3.2, 2.4))
    for ax, name in zip(axes.ravel(), names):
        chosen = [(p, label) for p, label, panel in zip(paths, labels, panels) if panel == name]
        colours = style.class_colours(len(chosen))
        monitor, low, high = None, np.inf, -np.inf
        for colour, (path, label) in zip(colours, chosen):
            table = read_metrics(path)
            low, high = min(low, table["loss"].min()), max(high, table["loss"].max())
            parts = table.groupby("encoder") if "encoder" in table else [(None, table)]
            for encoder, part in parts:
                suffix = "" if encoder is None else f", encoder {encoder}"
                smooth = part["loss"].rolling(SMOOTH, min_periods=1).mean()
                ax.plot(part["step"], smooth, color=colour, lw=0.8, label=f"{label}{suffix} train")
                validation = [c for c in part.columns if c.startswith("val_")]
                if validation:
                    monitor = "val_loss" if "val_loss" in validation else validation[0]
                    done = part.dropna(subset=[monitor])
                    ax.plot(done["step"], done[monitor], color=colour, lw=0.8, ls="--", marker="o", ms=2,
                            label=f"{label}{suffix} {monitor.replace('_', ' ')}")
        ax.set_title(name)
        ax.set_xlabel("step")
        ax.set_ylabel("loss" if monitor in (None, "val_loss") else f"loss; {monitor.replace('_', ' ')}")
        if low > 0 and high / low > 10:  # losses over decades
            ax.set_yscale("log")
        ax.legend(fontsize=5)
    style.hide_unused(axes, len(names))
    style.save(fig, out_png, title)
