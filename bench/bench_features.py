"""Feature extraction rate: astroflow.features.extract (the package's batched ``many`` on Arrow lists, in parallel)
against a per-object loop calling the same extractors on each band's arrays, same run, same light curves.

Run: python bench/bench_features.py [--objects 20000] [--loop-objects 2000] [--jobs -1]
Light curves: the simulated two-band survey (11 classes, 20-300 visits), cleaned. The loop runs on the first
--loop-objects objects; extract runs on those too, and both must give the same features. Rates are objects (all
bands) a second; the split per extractor shows where the time goes.
"""
from __future__ import annotations

import argparse
import time

import numpy as np

from astroflow import features
from astroflow.clean import clean
from astroflow.sources.simulate import CLASSES, simulate_survey
from astroflow.store import to_ragged


def loop(ragged, quantity: str) -> tuple[np.ndarray, list[float]]:
    """The reference: every extractor called on one band of one object at a time. Returns the per-band feature
    values (rows object * n_bands + band) and the seconds spent in each extractor."""
    starts, sizes, t, values = features.band_curves(ragged, quantity)
    parts, seconds = [], []
    for extractor, fewest, on_flux in features.EXTRACTORS:
        value, error = values[on_flux]
        out = np.full((len(sizes), len(extractor.names)), np.nan)
        start = time.perf_counter()
        for row in np.flatnonzero(sizes >= fewest):
            s = slice(starts[row], starts[row] + sizes[row])
            out[row] = extractor(t[s], value[s], error[s], fill_value=np.nan)
        seconds.append(time.perf_counter() - start)
        parts.append(out)
    return np.concatenate(parts, axis=1), seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--objects", type=int, default=20000)
    parser.add_argument("--loop-objects", type=int, default=2000)
    parser.add_argument("--jobs", type=int, default=-1)
    args = parser.parse_args()
    cat, _ = clean(simulate_survey(-(-args.objects // len(CLASSES)), seed=0, min_points=20, max_points=300))
    ragged = to_ragged(cat)
    n_bands = len(ragged.bands)
    print(f"{len(ragged)} objects, {len(ragged.time)} observations, bands {ragged.bands}")

    start = time.perf_counter()
    table = features.extract(ragged, "mag", n_jobs=args.jobs)
    whole = time.perf_counter() - start
    print(f"extract (batched many, n_jobs={args.jobs}): {len(ragged) / whole:,.0f} objects/s "
          f"({whole:.1f} s for {len(ragged)})")

    few = ragged.subset(np.arange(min(args.loop_objects, len(ragged))))
    start = time.perf_counter()
    batched = features.extract(few, "mag", n_jobs=args.jobs)
    ours = time.perf_counter() - start
    start = time.perf_counter()
    features.extract(few, "mag", n_jobs=1)
    single = time.perf_counter() - start
    values, seconds = loop(few, "mag")
    reference = sum(seconds)
    expected = values.reshape(len(few), n_bands, -1).transpose(0, 2, 1).reshape(len(few), -1)
    got = batched[[f"{n}_{b}" for n in features.NAMES for b in few.bands]].to_numpy()
    assert np.allclose(got, expected, equal_nan=True, rtol=1e-9), "batched and looped features differ"
    print(f"on {len(few)} objects: extract {len(few) / ours:,.0f} objects/s (n_jobs=1: {len(few) / single:,.0f}), "
          f"per-object loop {len(few) / reference:,.0f} objects/s, ratio {reference / ours:.2f}x")
    for (extractor, _, _), s in zip(features.EXTRACTORS, seconds, strict=True):
        print(f"  loop, {type(extractor).__name__:>10}: {len(few) / s:,.0f} objects/s")
    assert len(table) == len(ragged)


if __name__ == "__main__":
    main()
