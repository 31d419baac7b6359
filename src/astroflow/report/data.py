"""Report figures of the data: what the store holds and what cleaning dropped, and example light curves per class.

Made from the store, its QC table and the ingest summary alone (results/<dataset>/lightcurves.zarr, qc.parquet,
ingest_summary.json).
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from astroflow.errors import InputError
from astroflow.report import style
from astroflow.store import LightCurveStore

FAP = 1e-3  # a periodogram peak this unlikely under noise alone counts as a period


def example_indices(labels: np.ndarray, per_class: int, seed: int = 0) -> dict[int, np.ndarray]:
    """A fixed random choice of up to ``per_class`` objects of every class present."""
    rng = np.random.default_rng(seed)
    return {int(c): np.sort(rng.choice(np.flatnonzero(labels == c), min(per_class, int(np.sum(labels == c))),
                                       replace=False))
            for c in np.unique(labels) if c >= 0}


def observations_per_band(store: LightCurveStore) -> np.ndarray:
    """(objects, bands) counts of observations."""
    ragged = store.load()
    counts = np.zeros((len(ragged), len(store.bands)), dtype=np.int64)
    np.add.at(counts, (ragged.owner, ragged.band.astype(np.int64)), 1)
    return counts


def summary_table(bands: list[str], per_band: np.ndarray, qc: pd.DataFrame, summary: dict) -> pd.DataFrame:
    """The data set in numbers: objects and observations in and kept, per class, per band, and drops by reason."""
    rows = [("objects", "read", summary["objects_in"]), ("objects", "kept", summary["objects_kept"]),
            ("observations", "read", summary["observations_in"]),
            ("observations", "kept", summary["observations_kept"])]
    rows += [("objects per class", name, n) for name, n in summary["objects_per_class"].items()]
    rows.append(("objects per class", "unlabelled", summary["unlabelled"]))
    rows += [("observations per band", name, int(per_band[:, i].sum())) for i, name in enumerate(bands)]
    rows += [("observations dropped", reason, n) for reason, n in summary["observations_dropped"].items()]
    rows += [("objects dropped", reason, n) for reason, n in summary["objects_dropped_by_reason"].items()]
    return pd.DataFrame(rows, columns=["what", "item", "count"])


def dataset_summary(store_path: str | Path, qc_path: str | Path, summary_path: str | Path, out_csv: str | Path,
                    out_png: str | Path) -> None:
    """The summary table (CSV) and a figure: objects per class, observations per object and band, and what cleaning
    dropped, by reason."""
    store = LightCurveStore(store_path)
    qc = pd.read_parquet(qc_path)
    summary = json.loads(Path(summary_path).read_text())
    if len(qc) != summary["objects_in"]:
        raise InputError(qc_path, f"lists {len(qc)} objects, {summary_path} {summary['objects_in']}: rebuild the store")
    per_band = observations_per_band(store)
    summary_table(store.bands, per_band, qc, summary).to_csv(out_csv, index=False)

    fig, axes = style.figure(1, 3, panel=(3.0, 2.6))
    classes = summary["objects_per_class"]
    ax = axes[0, 0]
    ax.barh(list(classes), list(classes.values()), color="#4c72b0")
    ax.invert_yaxis()
    ax.set_xlabel("objects kept")
    ax.set_title(f"{summary['objects_kept']} of {summary['objects_in']} objects kept")

    ax = axes[0, 1]
    top = max(int(per_band.max(initial=1)), 1)
    bins = np.unique(np.geomspace(1, top + 1, 25).astype(int))
    for b, name in enumerate(store.bands):
        ax.hist(per_band[:, b][per_band[:, b] > 0], bins=bins, histtype="step", color=style.band_colour(b),
                label=f"{name} ({int(per_band[:, b].sum())} points)")
    ax.set_xscale("log")
    ax.set_xlabel("observations per object")
    ax.set_ylabel("objects")
    ax.legend(title="band")
    ax.set_title(f"{summary['observations_kept']} of {summary['observations_in']} observations kept")

    ax = axes[0, 2]
    drops = {f"obs: {k}": v for k, v in summary["observations_dropped"].items()}
    drops |= {f"object: {k}": v for k, v in summary["objects_dropped_by_reason"].items()}
    ax.barh(list(drops), list(drops.values()), color=["#dd8452" if k.startswith("obs") else "#c44e52"
                                                       for k in drops])
    ax.invert_yaxis()
    ax.set_xlabel("dropped (observations or objects)")
    ax.set_title("dropped by cleaning, by reason" if any(drops.values()) else "cleaning dropped nothing")
    style.save(fig, out_png, f"data set {summary['dataset']}: {store.attrs.get('survey', '')}")


def period_of(lc: dict, catalogue_period: float | None) -> tuple[float, str] | None:
    """The period to fold a light curve at: the catalogue's where the store has a period column (NaN there: not
    periodic), else the Lomb-Scargle peak of its best-sampled band when the peak's false-alarm probability is below
    FAP, away from the 1 and 2 cycles-per-day aliases of nightly sampling; None for a light curve with no period."""
    if catalogue_period is not None:
        return (float(catalogue_period), "catalogue") if np.isfinite(catalogue_period) and catalogue_period > 0 \
            else None
    from astropy.timeseries import LombScargle

    bands, counts = np.unique(lc["band"], return_counts=True)
    if not len(bands) or counts.max() < 10:
        return None
    keep = lc["band"] == bands[np.argmax(counts)]
    t, y, dy = lc["time"][keep], lc["value"][keep], lc["error"][keep]
    span = float(t.max() - t.min())
    if span <= 0:
        return None
    model = LombScargle(t, y, dy if np.all(dy > 0) else None)
    low, high = 2.0 / span, 20.0
    frequency, power = model.autopower(minimum_frequency=low, maximum_frequency=high, samples_per_peak=5)
    power = np.where(np.min(np.abs(frequency[:, None] - [1.0, 2.0]), axis=1) < 0.02, 0.0, power)
    best = int(np.argmax(power))
    if model.false_alarm_probability(power[best], minimum_frequency=low, maximum_frequency=high) > FAP:
        return None
    return 1.0 / float(frequency[best]), "periodogram"


def _errorbars(ax, x: np.ndarray, lc: dict, bands: list[str]) -> None:
    for b, name in enumerate(bands):
        keep = lc["band"] == b
        if keep.any():
            ax.errorbar(x[keep], lc["value"][keep], lc["error"][keep], fmt="o", ms=2, lw=0.6, elinewidth=0.5,
                        color=style.band_colour(b), label=name)


def example_lightcurves(store_path: str | Path, out_png: str | Path, seed: int = 0) -> None:
    """One light curve of every class against time (MJD), with error bars and a band legend, and beside it the
    light curve folded at its catalogue or periodogram period where it has one."""
    store = LightCurveStore(store_path)
    objects = store.objects
    chosen = example_indices(objects["label"].to_numpy(), 1, seed)
    if not chosen:
        raise ValueError(f"{store_path} has no labelled objects to show")
    magnitudes = store.quantity == "mag"
    unit = ("magnitude" if magnitudes else store.quantity) + (f" [{store.units}]" if store.units else "")
    fig, axes = style.figure(len(chosen), 2, panel=(3.4, 1.7))
    for row, (code, index) in enumerate(chosen.items()):
        i = int(index[0])
        lc = store.lightcurve(i)
        left, right = axes[row]
        _errorbars(left, lc["time"], lc, store.bands)
        left.set_title(f"{store.class_names[code]}: {lc['object_id']}", loc="left")
        left.set_xlabel("time [MJD]")
        left.set_ylabel(unit)
        if row == 0:
            left.legend(title="band", loc="best")
        period = period_of(lc, float(objects["period"].iloc[i]) if "period" in objects else None)
        if period is None:
            right.axis("off")
            right.text(0.0, 0.5, "no period (not folded)", transform=right.transAxes, fontsize=7, color="0.4")
        else:
            p, source = period
            phase = ((lc["time"] - lc["time"].min()) / p) % 1.0
            _errorbars(right, phase, lc, store.bands)
            right.set_xlabel("phase")
            right.set_ylabel(unit)
            right.set_title(f"folded at P = {p:.5g} d ({source})", loc="left")
        for ax in (left, right):
            if magnitudes and ax.axison:
                ax.invert_yaxis()  # brighter up
    style.save(fig, out_png, "example light curves per class")
