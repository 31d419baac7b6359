"""The probe rule: what an encoder's embeddings know of an object's period (issue 10).

A linear probe (ridge regression, its penalty chosen by cross-validation on the pool objects) maps each layer's
embedding of the pool objects to log10 of their period and is scored on the test objects. The period is the
store's ``period`` variable where a catalogue or the simulator gives one; a store without periods is probed for the
periodogram's best period (the features table) instead, as is one whose periods are known for too few objects:
that says what the encoder knows of what a forest sees.
Beside the layers, the periodogram itself is scored against the true period: a reference for how well the period
can be read from these light curves at all. A high R^2 of a layer means the period can be read off the embedding
by a linear head; a low one means a classifier head on top of that embedding must find it elsewhere.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from astroflow.errors import InputError
from astroflow.provenance import provenance, sha256_tree
from astroflow.store import LightCurveStore
from astroflow.tables import write_table
from astroflow.train.split import roles, same_objects
from astroflow.train.tabular import best_period

ALPHAS = np.logspace(-3, 4, 15)
NEAR = np.log10(1.1)  # a period within 10% counts as recovered
MIN_OBJECTS = 5  # objects with a period needed on each side of the split (the probe's 5-fold cross-validation)


def scores(true: np.ndarray, predicted: np.ndarray) -> dict:
    """R^2, median absolute error (dex) and the share within 10% of log10 periods."""
    error = predicted - true
    total = np.sum((true - true.mean()) ** 2)
    return {"r2": float(1 - np.sum(error ** 2) / total) if total > 0 else None,
            "median_abs_error_dex": float(np.median(np.abs(error))),
            "within_10_percent": float(np.mean(np.abs(error) < NEAR)), "n_objects": len(true)}


def _sides(period: np.ndarray, role: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """The pool and test objects with a period, or None when either side has fewer than MIN_OBJECTS."""
    periodic = np.isfinite(period) & (period > 0)
    fit, test = np.flatnonzero(periodic & (role == "pool")), np.flatnonzero(periodic & (role == "test"))
    return (fit, test) if min(len(fit), len(test)) >= MIN_OBJECTS else None


def fit_probe(x_fit: np.ndarray, y_fit: np.ndarray, x_test: np.ndarray, seed: int) -> tuple[np.ndarray, float]:
    """Ridge regression on standardised inputs, its penalty chosen by 5-fold cross-validation: (test predictions,
    penalty)."""
    from sklearn.linear_model import RidgeCV
    from sklearn.model_selection import KFold
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    folds = KFold(min(5, len(y_fit)), shuffle=True, random_state=seed)
    probe = make_pipeline(StandardScaler(), RidgeCV(alphas=ALPHAS, cv=folds)).fit(x_fit, y_fit)
    return probe.predict(x_test), float(probe[-1].alpha_)


def period_probe(embeddings_path: str | Path, store_path: str | Path, split_path: str | Path,
                 features_path: str | Path, out_metrics: str | Path, out_table: str | Path, seed: int = 0) -> None:
    """Probe every layer of the embeddings (and all layers joined) for log10 period; write the scores per layer
    and the test objects' true and probed periods."""
    store = LightCurveStore(store_path)
    ds = xr.open_zarr(embeddings_path)
    if "embedding" not in ds or ds["embedding"].dims != ("object", "layer", "feature"):
        raise InputError(embeddings_path, "is not an encode output (embedding over object, layer, feature)")
    same_objects(ds["object_id"].values.astype(object), store.objects["object_id"], embeddings_path, store_path)
    features = pd.read_parquet(features_path)
    same_objects(features["object_id"], store.objects["object_id"], features_path, store_path)
    periodogram = best_period(features, store.bands).astype(np.float64)
    role = roles(store, split_path)
    period = store.objects["period"].to_numpy(dtype=np.float64) if "period" in store.objects else periodogram
    sides = _sides(period, role)
    known = sides is not None and period is not periodogram
    if not known:
        period, sides = periodogram, _sides(periodogram, role)
    if sides is None:
        raise InputError(store_path, f"has fewer than {MIN_OBJECTS} pool or test objects with a period: too few "
                                     "to probe the embeddings for it")
    fit, test = sides
    y = np.log10(period)
    values = ds["embedding"].values.astype(np.float64)
    inputs = {f"layer {k}": values[:, k] for k in range(values.shape[1])}
    inputs["all layers"] = values.reshape(len(values), -1)
    table = {"object_id": store.objects["object_id"].to_numpy(dtype=str)[test],
             "label": store.objects["label"].to_numpy()[test], "log_period": y[test]}
    layers = {}
    for name, x in inputs.items():
        predicted, alpha = fit_probe(x[fit], y[fit], x[test], seed)
        layers[name] = scores(y[test], predicted) | {"alpha": alpha}
        table[f"probe {name}"] = predicted
    metrics = {"model": ds.attrs.get("model"), "target": "period" if known else "periodogram period",
               "layers": layers, "best_layer": max(layers, key=lambda k: layers[k]["r2"] or -np.inf),
               "provenance": provenance({"alphas": ALPHAS.tolist(), "seed": seed},
                                        {"embeddings": sha256_tree(embeddings_path)})}
    if known:
        found = test[np.isfinite(periodogram[test]) & (periodogram[test] > 0)]
        metrics["periodogram"] = scores(y[found], np.log10(periodogram[found]))
        table["periodogram"] = np.log10(np.where(periodogram[test] > 0, periodogram[test], np.nan))
    write_table(pd.DataFrame(table), out_table)
    Path(out_metrics).write_text(json.dumps(metrics, indent=2) + "\n")
