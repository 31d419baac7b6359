"""Report figures of model inputs: a representation of example objects of every class, drawn as a model reads it.

The arrays come from :func:`astroflow.represent.materialize.build`, the function the data loaders and the
represent rule use, so the figure shows exactly what a model is given. Every panel has axes in the input's own
units; DmDt maps share one colour scale (one colour bar), sequences share their value axis, so that a constant star
looks constant next to a variable one. Images are scaled per object by the renderer (that is the model's input);
each panel says the time span and value range the scaling hid.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from astroflow.report import style
from astroflow.report.data import example_indices
from astroflow.represent.materialize import build
from astroflow.store import LightCurveStore

DMDT_NORMS = {(): "pairs", ("max",): "pairs / map maximum", ("pairs",): "fraction of all pairs",
              ("dt",): "fraction of the dt row's pairs", ("dt", "max"): "row fraction / map maximum",
              ("max", "pairs"): "pairs / map maximum"}


def panels(name: str, params: dict, n_bands: int) -> tuple[int, bool]:
    """Examples per class and whether each band is a panel of its own (per-band DmDt maps and sequences)."""
    per_class = int(params.get("examples_per_class", 4))
    section = {"dtdm_cnn": "dtdm", "dtdm_rnn": "rnn", "dmdt": "dmdt"}.get(name)
    per_band = bool(section and params[section].get("per_band"))
    if name == "dmdt" and per_band:  # a map per band: fewer objects, so that a row stays readable
        per_class = max(1, per_class // n_bands)
    return per_class, per_band


def example_inputs(store_path: str | Path, name: str, params: dict, out_png: str | Path) -> None:
    """A grid of representation ``name`` of example objects, one row per class, drawn from the store alone;
    ``params`` is the config's represent section."""
    store = LightCurveStore(store_path)
    params = {**params, "magnitudes": store.quantity == "mag"}
    per_class, per_band = panels(name, params, len(store.bands))
    chosen = example_indices(store.objects["label"].to_numpy(), per_class)
    if not chosen:
        raise ValueError(f"{store_path} has no labelled objects to show")
    values = {code: build(name, store.load(index), params) for code, index in chosen.items()}
    per_panel = len(store.bands) if per_band and name == "dmdt" else 1
    cols = max(len(v) for v in chosen.values()) * per_panel
    image = name.startswith("image_")
    fig, axes = style.figure(len(chosen), cols, panel=(1.9, 1.7))
    unit = store.units or store.quantity
    shown = None
    if name in ("dtdm_cnn", "dtdm_rnn"):  # the dm part is drawn; one value axis for every panel
        low, top = _range([_dm(name, v, per_band) for v in values.values()])
    else:
        top = max(float(v.max()) for v in values.values()) or 1.0
    for row, (code, index) in enumerate(chosen.items()):
        lightcurves = store.load(index)
        for k, i in enumerate(index):
            for b in range(per_panel):
                ax = axes[row, k * per_panel + b]
                title = f"{store.class_names[code]}: {lightcurves.object_id[k]}"
                if name == "dmdt":
                    maps = values[code][k]
                    shown = _dmdt(ax, maps[b] if per_band else maps, params["dmdt"], top, unit)
                    title += f" ({store.bands[b]})" if per_band else " (all bands)"
                elif image:
                    _image(ax, values[code][k], lightcurves.object(k), unit)
                else:
                    _sequence(ax, name, values[code][k], per_band, unit)
                    ax.set_ylim(low, top)
                ax.set_title(title, fontsize=6, loc="left")
        style.hide_unused(axes[row], len(index) * per_panel)
    if shown is not None:
        fig.colorbar(shown, ax=axes, label=DMDT_NORMS.get(tuple(sorted(params["dmdt"]["norm"])), "value"),
                     shrink=0.3)
    if not image and per_band and name != "dmdt":
        handles = [style.band_line(b, band) for b, band in enumerate(store.bands)]
        fig.legend(handles=handles, title="band", loc="outside upper right")
    style.save(fig, out_png, f"model input {name}: what the model reads, per class ({_how(name, per_band)})")


def _how(name: str, per_band: bool) -> str:
    if name == "dmdt":
        return "one map per band" if per_band else "all bands merged into one map"
    if name.startswith("image_"):
        return f"{name.removeprefix('image_')} layout, scaled per object"
    return "one sequence per band" if per_band else "all bands merged into one sequence"


def _dmdt(ax, value: np.ndarray, grid: dict, top: float, unit: str):
    extent = (grid["min_lgdt"], grid["max_lgdt"], -grid["max_abs_dm"], grid["max_abs_dm"])
    shown = ax.imshow(value.T, origin="lower", aspect="auto", extent=extent, vmin=0.0, vmax=top,
                      cmap=style.SEQUENTIAL)
    ax.grid(False)
    ax.set_xlabel("log10 dt [d]")
    ax.set_ylabel(f"dm [{unit}]")
    ax.label_outer()
    return shown


def _image(ax, value: np.ndarray, lc: dict, unit: str) -> None:
    ax.imshow(value, extent=(-0.05, 1.05, -0.05, 1.05))
    ax.grid(False)
    ax.set_xlabel("time, scaled")
    ax.set_ylabel("value, scaled")
    ax.label_outer()
    if len(lc["time"]):
        span = float(np.ptp(lc["time"]))
        values = float(np.ptp(lc["value"]))
        ax.text(0.02, 0.02, f"{span:.0f} d, {values:.2f} {unit}", transform=ax.transAxes, fontsize=5,
                color="0.2", va="bottom")


def _dm(name: str, value: np.ndarray, per_band: bool) -> np.ndarray:
    """The dm values of dt/dm sequences (objects or one object), as (..., band, step)."""
    value = value if per_band else np.expand_dims(value, -3)
    if name == "dtdm_cnn":
        return value[..., 1, :]
    return value[..., value.shape[-1] // 2:].reshape(*value.shape[:-2], -1)


def _range(arrays: list[np.ndarray]) -> tuple[float, float]:
    low, high = min(float(a.min()) for a in arrays), max(float(a.max()) for a in arrays)
    pad = 0.05 * (high - low) or 0.5
    return low - pad, high + pad


def _sequence(ax, name: str, value: np.ndarray, per_band: bool, unit: str) -> None:
    """dm against step, a line per band (the sequences of the CNN and RNN)."""
    for b, dm in enumerate(_dm(name, value, per_band)):
        ax.plot(dm, lw=0.5, color=style.band_colour(b) if per_band else "0.2")
    ax.set_xlabel("step" if name == "dtdm_cnn" else "step x window")
    ax.set_ylabel(f"dm [{unit}]")
    ax.label_outer()
