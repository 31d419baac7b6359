"""Class, subclass and redshift of spectrum files with a trained spectrum model (``astroflow spectra-predict``)."""
from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from astroflow.errors import InputError
from astroflow.spectra.evaluate import load, predict
from astroflow.spectra.store import StoreConfig, build, open_store, text
from astroflow.tables import without_empty_columns, write_table


def predict_files(model_path: str | Path, fmt: str, path: str | Path, out: str | Path,
                  snr_min: float = 0.0) -> pd.DataFrame:
    """One row per spectrum read: predictions, or a note saying why the spectrum was not classified."""
    card, model = load(model_path)
    if card.frame != "observed":
        raise InputError(model_path, "the model reads rest-frame spectra; spectra of unknown redshift cannot be "
                                     "shifted to the rest frame")
    start, stop, step = card.grid
    with tempfile.TemporaryDirectory() as tmp:
        store, qc = Path(tmp) / "store.zarr", Path(tmp) / "qc.parquet"
        config = StoreConfig(grid_start=start, grid_stop=stop, grid_step=step, snr_min=snr_min)
        qc = build(store, qc, {k: getattr(config, k) for k in ("grid_start", "grid_stop", "grid_step", "snr_min")},
                   fmt=fmt, path=path, on_bad_file="skip")
        ds = open_store(store)
        rows = np.arange(ds.sizes["object"])
        outputs = predict(card, model, ds, rows)
        table = pd.DataFrame({"object_id": text(ds, "object_id"),
                              "class_pred": np.asarray(card.classes)[outputs["class"].argmax(1)],
                              "subclass_pred": np.asarray(card.subclasses)[outputs["subclass"].argmax(1)]})
        for i, name in enumerate(card.classes):
            table[f"p_{name}"] = outputs["class"][:, i]
        for i, name in enumerate(card.regression):
            table[f"{name}_pred"] = outputs["regression"][:, i]
    notes = qc.loc[~qc["kept"], ["object_id", "source", "reason"]].rename(columns={"reason": "note"})
    table = pd.concat([table.assign(note=""), notes.drop(columns="source")], ignore_index=True)
    table = without_empty_columns(table)
    write_table(table, out)
    return table
