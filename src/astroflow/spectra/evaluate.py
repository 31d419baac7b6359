"""Scores of a trained spectrum model: per-object predictions, metrics JSON (class and subclass accuracy, macro-F1
and confusion matrices; redshift R^2, NMAD of dz/(1+z), outlier fraction and the Spectromer success rates; the
stellar parameters' errors) and the predicted-vs-true redshift table the report plots."""
from __future__ import annotations

import json
import logging
import pickle
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import xarray as xr
from sklearn.metrics import r2_score

from astroflow.errors import InputError
from astroflow.models.card import CARD_KEY, STATE_KEY
from astroflow.spectra import inputs
from astroflow.spectra.models import BASELINES, SpectrumCard, build
from astroflow.spectra.redshift import redshift_metrics
from astroflow.spectra.store import open_store, text
from astroflow.spectra.train import input_key, model_inputs, read_split
from astroflow.train.metrics import classification_metrics
from astroflow.train.trainer import use_threads

log = logging.getLogger("astroflow.spectra")


def load(path: str | Path) -> tuple[SpectrumCard, object]:
    """The card and the model (a network in eval mode, or the baselines' fitted estimators) saved at ``path``."""
    path = Path(path)
    try:
        if path.suffix == ".joblib":
            import joblib

            saved = joblib.load(path)
            return SpectrumCard.from_dict(saved["card"], path), saved["models"]
        saved = torch.load(path, map_location="cpu", weights_only=True)
        card = SpectrumCard.from_dict(saved[CARD_KEY], path)
    except (OSError, EOFError, KeyError, TypeError, pickle.UnpicklingError, RuntimeError) as error:
        raise InputError(path, f"not a spectrum model ({type(error).__name__}: {error})") from None
    model = build(card)
    model.load_state_dict(saved[STATE_KEY])
    return card, model.eval()


def predict(card: SpectrumCard, model, ds: xr.Dataset, rows: np.ndarray, batch_size: int = 128) -> dict:
    """Class and subclass probabilities and regression values (in label units: z, Teff, log g, [Fe/H])."""
    x = model_inputs(ds, card, rows)
    if card.model in BASELINES:
        outputs = {"class": _proba(model["class"], x, len(card.classes)),
                   "subclass": _proba(model["subclass"], x, len(card.subclasses)),
                   "regression": np.stack([model[t].predict(x) for t in card.regression], axis=1)
                   if card.regression else np.zeros((len(rows), 0))}
    else:
        sizes = [len(card.classes), len(card.subclasses), len(card.regression)]
        parts = []
        with torch.no_grad():
            for start in range(0, len(x), batch_size):
                out = model({input_key(card): torch.from_numpy(np.ascontiguousarray(x[start:start + batch_size]))})
                parts.append(out.float())
        out = torch.cat(parts).split(sizes, dim=1) if parts else [torch.zeros(0, n) for n in sizes]
        outputs = {"class": out[0].softmax(1).numpy(), "subclass": out[1].softmax(1).numpy(),
                   "regression": out[2].numpy()}
    values = outputs["regression"] * np.asarray(card.target_std) + np.asarray(card.target_mean)
    for i, name in enumerate(card.regression):
        if name == "z" and card.log1p_z:
            values[:, i] = np.expm1(values[:, i])
        elif name == "teff":
            values[:, i] = 10.0 ** values[:, i]
    outputs["regression"] = values
    return outputs


def _proba(estimator, x: np.ndarray, n: int) -> np.ndarray:
    """Probabilities over all ``n`` codes (a class absent from the training labels gets 0)."""
    p = np.zeros((len(x), n))
    p[:, estimator.classes_] = estimator.predict_proba(x)
    return p


def evaluate(model_path: str | Path, store: str | Path, split_path: str | Path | None, out_predictions: str | Path,
             out_metrics: str | Path, out_redshift: str | Path, run: dict, threads: int | None = None) -> dict:
    """The ``spectra_evaluate`` stage: score a model on a store's test objects (``split_path``), or on all its
    objects (``split_path`` None: a store the model was not trained on, e.g. real spectra)."""
    use_threads(threads)
    card, model = load(model_path)
    ds = open_store(store)
    rows = (np.flatnonzero(read_split(ds, split_path) == "test") if split_path
            else np.arange(len(ds["object_id"])))
    if list(ds.attrs["grid"]) != list(card.grid) or ds.attrs["frame"] != card.frame:
        raise InputError(store, f"store grid {ds.attrs['grid']} ({ds.attrs['frame']} frame) is not the model's "
                                f"{card.grid} ({card.frame}): build the store with the model's grid")
    out = predict(card, model, ds, rows)
    sel = ds.isel(object=rows)
    truth = inputs.targets(sel, card.classes, card.subclasses, card.regression, log1p_z=False)
    spec_class = text(sel, "class")
    table = pd.DataFrame({"object_id": text(sel, "object_id"), "class": spec_class,
                          "class_pred": np.asarray(card.classes)[out["class"].argmax(1)] if len(rows) else [],
                          "subclass": [inputs.family(c, s) for c, s in zip(spec_class,
                                                                            text(sel, "subclass"))],
                          "subclass_pred": np.asarray(card.subclasses)[out["subclass"].argmax(1)] if len(rows)
                          else []})
    for i, name in enumerate(card.classes):
        table[f"p_{name}"] = out["class"][:, i].astype(np.float32)
    metrics = {**run, "model": card.model, "seed": card.seed, "n_objects": len(rows)}
    for head, names in (("class", card.classes), ("subclass", card.subclasses)):
        known = truth[head] >= 0
        metrics[head] = classification_metrics(truth[head][known], out[head].argmax(1)[known], names)
        metrics[head]["n_unscored"] = int((~known).sum())
    for i, name in enumerate(card.regression):
        true = sel[name].values.astype(np.float64)
        table[name] = true
        table[f"{name}_pred"] = out["regression"][:, i]
        if name == "z":
            metrics["redshift"] = redshift_metrics(true, out["regression"][:, i], spec_class)
        else:
            known = np.isfinite(true)
            metrics[name] = {"n": int(known.sum()),
                             "mae": float(np.mean(np.abs(true[known] - out["regression"][known, i])))
                             if known.any() else float("nan"),
                             "r2": float(r2_score(true[known], out["regression"][known, i]))
                             if known.sum() > 1 else float("nan")}
    table.to_parquet(out_predictions, index=False)
    if "z" in card.regression:
        z = table[["object_id", "class", "z", "z_pred"]].copy()
        z["dz_1pz"] = (z["z_pred"] - z["z"]) / (1 + z["z"])
        z.to_csv(out_redshift, index=False)
    else:
        pd.DataFrame(columns=["object_id", "class", "z", "z_pred", "dz_1pz"]).to_csv(out_redshift, index=False)
    Path(out_metrics).write_text(json.dumps(metrics, indent=2))
    log.info("%s on %d objects: class accuracy %.3f, macro-F1 %.3f; subclass macro-F1 %.3f; z success %.3f",
             card.model, len(rows), metrics["class"]["accuracy"], metrics["class"]["macro_f1"],
             metrics["subclass"]["macro_f1"], metrics.get("redshift", {}).get("success_rate", float("nan")))
    return metrics
