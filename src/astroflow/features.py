"""Light-curve features for the classic baseline (ALeRCE-style): per-band statistics from the ``light-curve``
package, colours and point counts, one row per object.

Per band (columns ``<feature>_<band>``), on the store's values (magnitudes or fluxes): amplitude, inter-percentile
ranges, magnitude percentage ratios, mean, median, weighted mean, standard deviation, skew, kurtosis, beyond 1 and
2 std, Stetson K, eta, eta_e, linear trend, reduced chi2, maximum slope, cusum; the periods and signal-to-noise of
the two highest Lomb-Scargle peaks (periods of 0.04 d and up); and a Bazin fit, on fluxes: a magnitude store's
magnitudes are turned into fluxes at zero point ``ZERO_POINT`` for it (the fit's shape parameters do not depend on
the zero point). Times are counted from each object's first observation, so the Bazin reference time is days since
then.

Per object: ``n_points_<band>``, and the colour of each pair of adjacent bands in the store's band order,
``colour_<a>_<b>``: the difference of the bands' mean magnitudes, or for a flux store -2.5 log10 of the ratio of
their mean fluxes (NaN unless both are positive).

A feature a band has too few points for is NaN (an empty band gives NaN everywhere), so the raw table may hold NaN;
:func:`matrix` imputes before the forest sees it. Observations the package cannot take (non-finite value or error,
error <= 0, a repeated time within a band: a cleaned store has none) are left out with a logged count.
"""
from __future__ import annotations

import itertools
import json
import logging
import time
from pathlib import Path

import light_curve as lc
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from astroflow import provenance
from astroflow.errors import InputError
from astroflow.logs import progress
from astroflow.ragged import Ragged, band_objects, positions
from astroflow.store import LightCurveStore, StoreBlocks

log = logging.getLogger(__name__)

ZERO_POINT = 25.0  # magnitude of unit flux, for the Bazin fit of a magnitude store
FILL = -999.0  # what the forest sees in place of a missing or non-finite feature (as ALeRCE's classifier)
PERIODOGRAM_PEAKS = 2
# Lomb-Scargle frequencies (angular, rad/d) up to 25 cycles a day (periods down to 0.04 d, delta Scuti stars) in
# steps of 1/2600 cycles a day: a multi-year baseline, and a fixed grid, so no cadence hides short periods.
FREQUENCIES = np.linspace(0.0, 2 * np.pi * 25.0, 2**16 + 1)
BLOCK = 65536  # objects extracted at a time: bounds the memory of the copies handed to the package
FIELDS = {"t": "t", "m": "m", "sigma": "sigma"}
META_KEY = b"astroflow"  # the features table's schema metadata: bands, classes, quantity, provenance


def _statistics() -> lc.Extractor:
    return lc.Extractor(
        lc.Amplitude(), lc.InterPercentileRange(0.25), lc.InterPercentileRange(0.1), lc.InterPercentileRange(0.05),
        lc.MagnitudePercentageRatio(0.4, 0.05), lc.MagnitudePercentageRatio(0.2, 0.05), lc.Mean(), lc.Median(),
        lc.WeightedMean(), lc.StandardDeviation(), lc.Skew(), lc.Kurtosis(), lc.BeyondNStd(1.0), lc.BeyondNStd(2.0),
        lc.StetsonK(), lc.Eta(), lc.EtaE(), lc.LinearTrend(), lc.ReducedChi2(), lc.MaximumSlope(), lc.Cusum())


# (extractor, fewest points it is run on, on fluxes): the periodogram panics on fewer than two points.
EXTRACTORS = ((_statistics(), 1, False),
              (lc.Periodogram(peaks=PERIODOGRAM_PEAKS, freqs=FREQUENCIES, fast=True), 2, False),
              (lc.BazinFit("lmsder"), 6, True))
NAMES = [name for e, _, _ in EXTRACTORS for name in e.names]  # per band, in table order
MEAN = NAMES.index("mean")
SETTINGS = {"features": NAMES, "zero_point": ZERO_POINT, "periodogram_max_freq": FREQUENCIES[-1],
            "light_curve": lc.__version__}


def write_features(store_path: str | Path, out: str | Path, threads: int = -1, memory_mb: int = 2048,
                   part: int = 0, parts: int = 1) -> None:
    """Write the feature table of every object of the store (extract), in store order, with the
    store's bands, class names, quantity and cleaning and the provenance in the Parquet schema metadata. The store
    is read and the table written a block of ``memory_mb`` at a time (store.StoreBlocks), so memory stays bounded.
    ``part`` of ``parts``: the objects of that share of the store only (jobs side by side on a cluster; their
    tables joined in order by tables.join_parquet are the table of one job)."""
    store = LightCurveStore(store_path)
    start = time.monotonic()
    meta = {"bands": store.bands, "class_names": store.class_names, "quantity": store.quantity,
            **store.reading,
            "provenance": provenance.provenance(SETTINGS,
                                                {str(store_path): provenance.sha256_tree(store_path)})}
    blocks = StoreBlocks(store_path, memory_mb, part, parts)
    tables = (extract(blocks.read(k), store.quantity, n_jobs=threads) for k in range(len(blocks)))
    writer, n = None, 0
    try:
        for table in itertools.chain(tables, [] if len(blocks) else [extract(store.load_range(*blocks.span),
                                                                                store.quantity)]):
            arrow = pa.Table.from_pandas(table, preserve_index=False)
            if writer is None:
                schema = arrow.schema.with_metadata({**arrow.schema.metadata, META_KEY: json.dumps(meta).encode()})
                writer = pq.ParquetWriter(out, schema)
            writer.write_table(arrow.cast(writer.schema))
            n += len(table)
    finally:
        if writer is not None:
            writer.close()
    log.info("features of %d objects in %.1f s (%d blocks)", n, time.monotonic() - start, len(blocks))


def read_features(path: str | Path) -> tuple[pd.DataFrame, dict]:
    """A feature table and its metadata (bands, class_names, quantity, provenance)."""
    metadata = pq.read_schema(path).metadata or {}
    if META_KEY not in metadata:
        raise InputError(path, "not an astroflow feature table (no astroflow metadata): rebuild it")
    return pd.read_parquet(path), json.loads(metadata[META_KEY])


def columns(bands: list[str]) -> list[str]:
    """The feature columns of a store with these bands, in table order."""
    return ([f"{name}_{band}" for name in [*NAMES, "n_points"] for band in bands]
            + [f"colour_{a}_{b}" for a, b in itertools.pairwise(bands)])


def extract(ragged: Ragged, quantity: str, n_jobs: int = -1) -> pd.DataFrame:
    """The feature table of every object: ``object_id`` and :func:`columns` (NaN where a feature is undefined)."""
    if quantity not in ("mag", "flux"):
        raise ValueError(f"quantity must be 'mag' or 'flux', not {quantity!r}")
    ragged = usable(ragged)
    blocks = [_block(ragged.subset(np.arange(start, min(start + BLOCK, len(ragged)))), quantity, n_jobs)
              for start in progress(range(0, len(ragged), BLOCK), f"features: blocks of {BLOCK} objects")]
    names = columns(list(ragged.bands))
    values = np.concatenate(blocks) if blocks else np.zeros((0, len(names)))
    table = pd.DataFrame(values, columns=names)
    table.insert(0, "object_id", pd.array(ragged.object_id.astype(str), dtype="string"))
    return table


def usable(ragged: Ragged) -> Ragged:
    """The observations the package can take: finite value and error, positive error, the first of repeated times
    of an object's band."""
    order = np.lexsort((ragged.time, ragged.band, ragged.owner))
    owner, band, time = ragged.owner[order], ragged.band[order], ragged.time[order]
    repeated = np.zeros(len(order), dtype=bool)
    repeated[order[1:]] = (owner[1:] == owner[:-1]) & (band[1:] == band[:-1]) & (time[1:] == time[:-1])
    keep = (np.isfinite(ragged.time) & np.isfinite(ragged.value) & np.isfinite(ragged.error) & (ragged.error > 0)
            & ~repeated)
    if keep.all():
        return ragged
    log.warning("%d observations left out of the features (non-finite, error <= 0 or a repeated time in a band)",
                int((~keep).sum()))
    return ragged.where(keep)


def band_curves(ragged: Ragged, quantity: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict]:
    """Every band of every object as one light curve (row ``object * n_bands + band``): the rows' starts and sizes
    in the returned arrays, times since the object's first observation, and (value, error) pairs as given (key
    False) and as fluxes (key True) for the extractors that fit fluxes."""
    n_bands = max(len(ragged.bands), 1)
    singles = band_objects(ragged)
    nonempty = ragged.row_size > 0
    first = np.zeros(len(ragged))
    first[nonempty] = ragged.time[ragged.offset[nonempty]]
    time = singles.time - first[singles.owner // n_bands]
    value, error = singles.value.astype(np.float64), singles.error.astype(np.float64)
    flux, flux_error = value, error
    if quantity == "mag":
        flux = 10.0 ** (-0.4 * (value - ZERO_POINT))
        flux_error = flux * 0.4 * np.log(10.0) * error
    return singles.offset, singles.row_size, time, {False: (value, error), True: (flux, flux_error)}


def _block(ragged: Ragged, quantity: str, n_jobs: int) -> np.ndarray:
    """Features of a few objects, each band of each object one light curve for the package."""
    starts, sizes, time, values = band_curves(ragged, quantity)
    parts = []
    for extractor, fewest, on_flux in EXTRACTORS:
        out = np.full((len(sizes), len(extractor.names)), np.nan)
        rows = np.flatnonzero(sizes >= fewest)
        if len(rows):
            lists = _lists(starts[rows], sizes[rows], time, *values[on_flux])
            out[rows] = extractor.many(lists, arrow_fields=FIELDS, fill_value=np.nan, n_jobs=n_jobs)
        parts.append(out)
    parts.append(sizes[:, None].astype(np.float64))
    per_band = np.concatenate(parts, axis=1).reshape(len(ragged), max(len(ragged.bands), 1), -1)
    mean = per_band[:, :, MEAN]
    per_band = per_band.transpose(0, 2, 1).reshape(len(ragged), -1)  # feature-major: amplitude_B, amplitude_R, ...
    return np.concatenate([per_band, _colours(mean, quantity)], axis=1)


def _lists(starts: np.ndarray, sizes: np.ndarray, time: np.ndarray, value: np.ndarray,
           error: np.ndarray) -> pa.LargeListArray:
    """Light curves as an Arrow list of (t, m, sigma) structs, the package's batched input."""
    pos = positions(starts, sizes)
    points = pa.StructArray.from_arrays([pa.array(time[pos]), pa.array(value[pos]), pa.array(error[pos])],
                                        names=list(FIELDS.values()))
    return pa.LargeListArray.from_arrays(pa.array(np.concatenate([[0], np.cumsum(sizes)])), points)


def _colours(mean: np.ndarray, quantity: str) -> np.ndarray:
    """Colours of adjacent bands from per-band means (objects x bands)."""
    if quantity == "mag":
        return mean[:, :-1] - mean[:, 1:]
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = mean[:, :-1] / mean[:, 1:]
        return np.where((mean[:, :-1] > 0) & (mean[:, 1:] > 0), -2.5 * np.log10(ratio), np.nan)


def matrix(table: pd.DataFrame, names: list[str], fill: float = FILL) -> tuple[np.ndarray, dict[str, int]]:
    """The forest's input: the ``names`` columns as float32, every missing, non-finite or float32-overflowing value
    replaced by ``fill``; and how many values of each column were replaced."""
    values = table[names].to_numpy(dtype=np.float64, na_value=np.nan, copy=True)
    with np.errstate(invalid="ignore"):
        bad = ~(np.abs(values) <= np.finfo(np.float32).max)
    values[bad] = fill
    return values.astype(np.float32), dict(zip(names, bad.sum(axis=0).tolist(), strict=True))
