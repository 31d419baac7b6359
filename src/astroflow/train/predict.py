"""Apply a trained classifier (a network's model.pt, or the forest's model.skops) to light curves it has not seen:
a store of the workflow, or a user's catalogue in any supported format (read, then cleaned as the training data
were).

The output has one row per object of the input: object_id, label (where the input has one), pred and p_<class>
for every class of the model, and ``note``: empty for a classified object, else why it could not be classified
(cleaned away, no observation in the model's bands, or probabilities that are not finite); such rows have no
probabilities and no pred.
"""
from __future__ import annotations

import functools
import logging
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from astroflow import features as lcfeatures
from astroflow.clean import CleanConfig, clean
from astroflow.errors import ConfigError, InputError
from astroflow.ingest import read_units
from astroflow.logs import progress
from astroflow.ragged import Ragged
from astroflow.sources import formats
from astroflow.store import LightCurveStore, StoreBlocks, to_ragged
from astroflow.tables import table_format, without_empty_columns, write_table, write_tables
from astroflow.train import artifacts
from astroflow.train.data import sample_bands
from astroflow.train.forest import forest_proba, load_forest
from astroflow.train.inference import pieces, predict_proba
from astroflow.train.inputs import model_inputs
from astroflow.train.metrics import predictions_table
from astroflow.train.split import readable
from astroflow.train.streaming import STREAM, StreamConfig, blockwise
from astroflow.train.tabular import feature_table
from astroflow.train.trainer import use_threads
from astroflow.uncertainty.sampling import method_samples
from astroflow.uncertainty.scores import scores
from astroflow.uncertainty.uncertainty import members_of

log = logging.getLogger(__name__)
NOT_FINITE = "the model's probabilities are not finite (NaN or inf): not classified"


def in_model_bands(ragged: Ragged, bands: list[str]) -> Ragged:
    """The light curves with band codes of the model's ``bands``; observations in other bands are left out."""
    code = np.array([bands.index(b) if b in bands else -1 for b in ragged.bands], dtype=np.int64)
    new = code[ragged.band.astype(np.int64)] if len(ragged.band) else np.zeros(0, dtype=np.int64)
    keep = new >= 0
    if not keep.all():
        log.warning("%d observations in bands the model does not know (%s) are left out", int((~keep).sum()),
                    sorted(set(ragged.bands) - set(bands)))
    kept = ragged.where(keep)
    kept.band, kept.bands = new[keep].astype(np.int8), list(bands)
    return kept


def is_forest(model_path: str | Path) -> bool:
    """Whether a model file is the forest baseline's (model.skops) rather than a network's (model.pt)."""
    return Path(model_path).suffix == ".skops"


def training_data(model_path: str | Path) -> tuple[dict, dict]:
    """How the model's training data were cleaned (CleanConfig fields) and read (format and reader options; empty
    for simulated data)."""
    if is_forest(model_path):
        meta = load_forest(model_path)[1]
        return meta.get("clean", {}), meta.get("reader", {})
    card = artifacts.load_model(model_path)[1]
    return card.clean, card.reader


def reader_for(model_path: str | Path, fmt: str | None, options: dict, reader: dict) -> tuple[str, dict]:
    """The format and options to read a new catalogue with: the model's ``reader`` (its training data's), so files
    of the same survey need no options repeated, with the given ``options`` on top (key by key, and within
    ``columns`` and other mappings entry by entry); a ``fmt`` other than the model's takes only ``options``. The
    model's label column is left out: new files may carry none (give it in ``options`` to read labels)."""
    fmt = fmt or reader.get("format")
    if fmt is None:
        raise ConfigError("format", f"{model_path} was trained on simulated data, so it names no format: give one "
                          "(astroflow formats lists them)")
    if fmt != reader.get("format"):
        return fmt, options
    remembered = formats.unlabelled(fmt, reader.get("options", {}))
    if remembered:
        log.info("reading %s with the model's reader options %s (given options override them)", fmt, remembered)
    merged = {**remembered, **options}
    for key, value in options.items():
        if isinstance(value, dict) and isinstance(remembered.get(key), dict):
            merged[key] = {**remembered[key], **value}
    return fmt, merged


def predict_ragged(model_path: str | Path, ragged: Ragged, batch_size: int = 256, uncertainty: str | None = None,
                   passes: int = 10, members: list[str | Path] = ()) -> pd.DataFrame:
    """Probabilities of every object of ``ragged`` (labels, if any, coded into ``ragged.class_names``). With an
    ``uncertainty`` method (astroflow.uncertainty.METHODS; networks only) the probabilities are the mean of its
    ``passes`` draws (an ensemble: of the models ``model_path`` and ``members``), and every score is a column."""
    if is_forest(model_path):
        forest, meta = load_forest(model_path)
        ragged = in_model_bands(ragged, meta["bands"])
        seen = ragged.row_size > 0
        learnt = forest.classes_  # a class the forest never saw has probability 0 for every object: no column
        probs = np.full((len(ragged), len(learnt)), np.nan, dtype=np.float64)
        if seen.any():
            table = lcfeatures.extract(ragged.subset(np.flatnonzero(seen)), meta["quantity"], n_jobs=1)
            probs[seen] = forest_proba(forest, meta, table)[:, learnt]
        return _table(ragged, probs, seen, [meta["class_names"][c] for c in learnt], "the model's bands")
    if uncertainty:
        return predict_uncertain([model_path, *members], ragged, uncertainty, passes, batch_size)
    classifier, card = load_classifier(model_path)
    return classify(classifier, card, prepare(ragged, 0, card, batch_size))


def load_classifier(model_path: str | Path):
    classifier, card = artifacts.load_model(model_path)
    check_classifier(model_path, card)
    return classifier, card


def check_classifier(model_path: str | Path, card) -> None:
    if card.kind != "classifier":
        raise InputError(model_path, "is a pretrained encoder, not a classifier: fine-tune it first")


def model_view(ragged: Ragged, card) -> tuple[Ragged, np.ndarray, np.ndarray]:
    """The light curves as the model reads them, whether it can read each, and the indices of those it can."""
    ragged = sample_bands(in_model_bands(ragged, card.bands), card.band_sampling, card.sync_tolerance, card.band)
    seen = readable(ragged, np.arange(len(ragged)), card.band)
    return ragged, seen, np.flatnonzero(seen)


def prepare(ragged: Ragged, first: int, card, batch_size: int, table: pd.DataFrame | None = None) -> tuple:
    """The CPU side of classifying ``ragged`` (a DataLoader worker's share of a block, its first object the
    store's ``first``): model_view and the inputs of the objects it can read, cut in batches (inference.pieces).
    ``table``: the feature table of the whole store, of which the block's rows are read (None: a model reading
    features has them extracted from the block's light curves)."""
    ragged, seen, usable = model_view(ragged, card)
    rows = None if table is None else table.iloc[first:first + len(ragged)]
    return ragged, seen, pieces(model_inputs(ragged, usable, card, table=rows), batch_size) if len(usable) else None


def classify(classifier, card, prepared: tuple) -> pd.DataFrame:
    """The predictions table of objects ``prepare`` made ready."""
    ragged, seen, cut = prepared
    probs = np.full((len(ragged), len(card.class_names)), np.nan, dtype=np.float32)
    if cut is not None:
        probs[seen] = predict_proba(classifier, cut)
    return _table(ragged, probs, seen, card.class_names, _wanted(card))


def predict_uncertain(model_paths: list[str | Path], ragged: Ragged, method: str, passes: int,
                      batch_size: int) -> pd.DataFrame:
    """The predictions table of ``method``'s mean over its draws (an ensemble: of the models ``model_paths``),
    with every uncertainty score as a column."""
    models, card = members_of(model_paths)
    check_classifier(model_paths[0], card)
    ragged, seen, usable = model_view(ragged, card)
    probs = np.full((len(ragged), len(card.class_names)), np.nan, dtype=np.float32)
    per_object = {}
    if len(usable):
        torch.manual_seed(0)
        samples = method_samples(method, models, model_inputs(ragged, usable, card), passes, batch_size)
        probs[usable] = samples.mean(axis=1)
        per_object = scores(samples)
    table = _table(ragged, probs, seen, card.class_names, _wanted(card))
    for name, score in per_object.items():
        table[name] = np.nan
        table.loc[usable, name] = score
    return table


def _wanted(card) -> str:
    """What an object needs for the model to read it, for the note of those it cannot."""
    if card.band is not None:
        return f"band {card.bands[card.band]}"
    if card.bands_apart:  # a single-band encoder reading each band alone: any of them will do
        return "the model's bands"
    return "all bands" if card.band_sampling == "asynchronous" else "epochs shared by all bands"


def _table(ragged: Ragged, probs: np.ndarray, seen: np.ndarray, class_names: list[str], wanted: str) -> pd.DataFrame:
    """The predictions table; objects not ``seen`` or with probabilities that are not finite have a note instead."""
    finite = np.isfinite(probs).all(axis=1)  # a model with NaN weights, or inputs it overflows on, gives NaN
    table = predictions_table(ragged.object_id, np.full(len(ragged), -1), np.where(finite[:, None], probs, 0.0),
                              class_names)
    # The input's labels code into its own class names, not the model's; -1 (unknown) picks the trailing None.
    names = np.asarray(ragged.class_names + [None], dtype=object)
    table["label"] = pd.array(names[ragged.label], dtype="string")
    table.loc[~finite, ["pred"]] = pd.NA
    table.loc[~finite, [f"p_{c}" for c in class_names]] = np.nan
    table["note"] = np.where(finite, "", np.where(seen, NOT_FINITE, f"no observations in {wanted}"))
    if (seen & ~finite).any():
        log.warning("%d objects not classified: %s", int((seen & ~finite).sum()), NOT_FINITE)
    return table


def predict_store(model_path: str | Path, store_path: str | Path, out: str | Path, threads: int | None = None,
                  batch_size: int = 256, stream: StreamConfig = STREAM,
                  features_path: str | Path | None = None, part: int = 0, parts: int = 1) -> None:
    """Probabilities of every object of a light-curve store, written to ``out`` (Parquet, or CSV by suffix) block
    by block: memory is ``stream.memory_mb`` of light curves (per worker process) whatever the store's size. A
    model reading light-curve features takes the features rule's table of the store (``features_path``) when
    given, else extracts them from each block (the periodogram then costs far more than the network). ``part`` of
    ``parts``: the objects of that share of the store only (store.StoreBlocks)."""
    use_threads(threads)
    blocks = StoreBlocks(store_path, stream.memory_mb, part, parts)
    if is_forest(model_path):
        tables = (predict_ragged(model_path, blocks.read(k)) for k in range(len(blocks)))
    else:
        classifier, card = load_classifier(model_path)
        table = feature_table(card, features_path, LightCurveStore(store_path)) if features_path else None
        ready = blockwise(blocks, functools.partial(prepare, card=card, batch_size=batch_size, table=table),
                          stream.workers)
        tables = (classify(classifier, card, p) for p in ready)
    write_tables(progress(tables, "predicting: blocks", total=len(blocks)), out,
                 empty=lambda: predict_ragged(model_path, LightCurveStore(store_path).load_range(*blocks.span)))


def predict_catalogue(model_path: str | Path, fmt: str | None, path: str | Path, out: str | Path,
                      options: dict | None = None, batch_size: int = 256, **uncertainty) -> pd.DataFrame:
    """Read a catalogue (``fmt``: a reader of astroflow.sources.formats, None: the model's; with ``options`` on top
    of the model's reader options, see reader_for), clean it with the cleaning the model's training data had,
    classify it, and write the table to ``out`` (CSV or Parquet by its suffix) without the columns that hold nothing
    (no labels, no notes, or no probabilities at all); returns the table. Objects the cleaner dropped are listed
    with its reason as their note. ``uncertainty``: predict_ragged's uncertainty, passes and members."""
    table_format(out)
    settings, reader = training_data(model_path)
    fmt, options = reader_for(model_path, fmt, options or {}, reader)
    units = formats.discover(fmt, path, **options)
    cat = read_units(fmt, units, options)
    cleaned, qc = clean(cat, CleanConfig(**settings))
    table = predict_ragged(model_path, to_ragged(cleaned), batch_size, **uncertainty)
    dropped = qc.loc[~qc["kept"].astype(bool), ["object_id", "reason"]] if len(qc) else qc
    if len(dropped):
        extra = pd.DataFrame({"object_id": pd.array(dropped["object_id"].astype(str), dtype="string"),
                              "note": "cleaned away: " + dropped["reason"].astype(str)})
        table = pd.concat([table, extra], ignore_index=True)
    log.info("%d objects classified, %d not (see the note column)", int((table["note"] == "").sum()),
             int((table["note"] != "").sum()))
    table = without_empty_columns(table)
    write_table(table, out)
    return table
