"""Light-curve features (astroflow.features) as a network input: what gives the deep models the period.

A sinusoidal encoding of raw times cannot hold a period of hours over a baseline of years, and a window of 64 or
200 consecutive points rarely spans enough cycles to find one; the forest sees it through its Lomb-Scargle peaks.
A model whose config asks for features (``features: period``: the two highest periodogram peaks of every band, their
periods and signal-to-noise; ``all``: every feature column) gets them per object as ``batch["features"]``,
compressed (sign(x) log(1 + |x|): periods, fluxes and chi2 span decades) and standardised with the training
objects' mean and standard deviation (kept in the model's meta, so inference uses the same), a missing value
becoming 0 (the mean). ``batch["period"]`` is the best period of the object (the highest periodogram peak over its
bands), which a model may fold its times with.
"""
from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

from astroflow import features as lcfeatures
from astroflow import models
from astroflow.errors import ConfigError
from astroflow.models.card import ModelCard
from astroflow.ragged import Ragged
from astroflow.store import LightCurveStore
from astroflow.train.split import same_objects

CHOICES = ("none", "period", "all")
PERIODOGRAM = [n for n in lcfeatures.NAMES if n.startswith("periodogram_")]
LIMIT = 10.0  # standardised values are clipped to +-LIMIT: one wild feature value must not dominate a batch
log = logging.getLogger(__name__)


def uses_features(config) -> bool:
    """Whether a model of ``config`` reads light-curve features or folds at the periodogram's period."""
    return getattr(config, "features", "none") != "none" or getattr(config, "phase_harmonics", 0) > 0


def feature_columns(choice: str, bands: list[str]) -> list[str]:
    """The feature table's columns a model of ``features: choice`` reads (none for ``none``)."""
    if choice not in CHOICES:
        raise ConfigError("model.features", f"{choice!r} is not one of {CHOICES}")
    if choice == "none":
        return []
    every = lcfeatures.columns(bands)
    if choice == "all":
        return every
    return [c for c in every if any(c == f"{n}_{b}" for n in PERIODOGRAM for b in bands)]


def compress(values: np.ndarray) -> np.ndarray:
    """sign(x) log(1 + |x|) in float64; NaN and non-finite values become NaN."""
    values = np.asarray(values, dtype=np.float64)
    with np.errstate(invalid="ignore", over="ignore"):
        out = np.sign(values) * np.log1p(np.abs(values))
    return np.where(np.isfinite(out), out, np.nan)


def normalisation(table: pd.DataFrame, columns: list[str], rows: np.ndarray) -> dict:
    """Mean and standard deviation of the compressed ``columns`` over the training ``rows`` (NaN ignored)."""
    x = compress(table[columns].to_numpy(dtype=np.float64, na_value=np.nan)[rows])
    count = np.isfinite(x).sum(axis=0)
    mean = np.where(count > 0, np.nansum(x, axis=0) / np.maximum(count, 1), 0.0)
    spread = np.sqrt(np.nansum((x - mean) ** 2, axis=0) / np.maximum(count, 1))
    return {"columns": list(columns), "mean": mean.tolist(), "std": np.where(spread > 1e-9, spread, 1.0).tolist()}


def object_arrays(table: pd.DataFrame, norm: dict, bands: list[str]) -> dict[str, np.ndarray]:
    """Per object (table row): ``features`` (float32, standardised by ``norm``; left out when it names no column)
    and ``period`` (float32 days, the highest periodogram peak over the bands; 0 where no band has one)."""
    arrays = {"period": best_period(table, bands)}
    if norm["columns"]:
        x = compress(table[norm["columns"]].to_numpy(dtype=np.float64, na_value=np.nan))
        x = np.clip((x - np.asarray(norm["mean"])) / np.asarray(norm["std"]), -LIMIT, LIMIT)
        arrays["features"] = np.nan_to_num(x, nan=0.0).astype(np.float32)
    return arrays


def table_of(ragged: Ragged, quantity: str, table: pd.DataFrame | None) -> pd.DataFrame:
    """The feature table of ``ragged``'s objects: ``table`` (the features rule's, checked to list them in order), or
    extracted now (a catalogue classified by predict)."""
    if table is None:
        return lcfeatures.extract(ragged, quantity)
    if not np.array_equal(table["object_id"].to_numpy(dtype=str), np.asarray(ragged.object_id, dtype=str)):
        raise ConfigError("train", "the feature table does not list the store's objects in order: rebuild it")
    return table


def rows_of(table: pd.DataFrame, object_id: np.ndarray) -> pd.DataFrame:
    """The rows of ``table`` (a store's feature table) of the objects ``object_id``, in that order (a streamed
    buffer holds a subset of the store's objects)."""
    where = pd.Index(table["object_id"].to_numpy(dtype=str)).get_indexer(np.asarray(object_id, dtype=str))
    if np.any(where < 0):
        raise ConfigError("train", "the feature table does not list every object of the store: rebuild it")
    return table.iloc[where]


def best_period(table: pd.DataFrame, bands: list[str]) -> np.ndarray:
    """The period of the highest first periodogram peak (by signal-to-noise) over the bands, 0 where none."""
    period = table[[f"periodogram_period_0_{b}" for b in bands]].to_numpy(dtype=np.float64, na_value=np.nan)
    snr = table[[f"periodogram_period_s_to_n_0_{b}" for b in bands]].to_numpy(dtype=np.float64, na_value=np.nan)
    usable = np.isfinite(period) & (period > 0) & np.isfinite(snr)
    snr = np.where(usable, snr, -np.inf)
    best = np.take_along_axis(np.where(usable, period, 0.0), snr.argmax(axis=1)[:, None], axis=1)[:, 0]
    return best.astype(np.float32)


def feature_table(card: ModelCard, features_path: str | Path | None, store: LightCurveStore) -> pd.DataFrame | None:
    """The features rule's table (checked to list the store's objects) when the model of ``card`` reads light-curve
    features or folds at the periodogram's period, extracted from the store when no table is given; None for
    other models."""
    if not uses_features(models.model_config(card.model, **card.overrides)):
        return None
    if not features_path:
        log.info("%s reads light-curve features and no table is given: extracting them from %s", card.model,
                 store.path)
        return lcfeatures.extract(store.load(), store.quantity)
    table, _ = lcfeatures.read_features(features_path)
    same_objects(table["object_id"], store.objects["object_id"], features_path, store.path)
    return table


def with_feature_norm(card: ModelCard, table: pd.DataFrame | None, rows: np.ndarray, head: bool = True) -> ModelCard:
    """``card`` with the standardisation of the features the model reads, from the training objects ``rows``
    (``head=False``: none, the period only, as pretraining an encoder needs)."""
    if table is None:
        return card
    choice = models.model_config(card.model, **card.overrides).features if head else "none"
    return replace(card, feature_norm=normalisation(table, feature_columns(choice, card.bands), rows))


class WithObjectArrays:
    """A model input source (Windows, DtDm, Images) whose batches also carry per-object arrays (``features``,
    ``period``; rows follow the Ragged's objects), taken by each example's ``index``."""

    def __init__(self, source, arrays: dict[str, np.ndarray]):
        self.source, self.arrays = source, arrays
        self.ragged, self.index = source.ragged, source.index

    def random(self, rows: np.ndarray, rng: np.random.Generator) -> dict[str, np.ndarray]:
        return self._add(self.source.random(rows, rng))

    def all(self, rows: np.ndarray | None = None) -> dict[str, np.ndarray]:
        return self._add(self.source.all(rows))

    def _add(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        return batch | {k: v[batch["index"]] for k, v in self.arrays.items()}
