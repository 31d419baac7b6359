import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from astroflow.catalogue import Catalogue
from astroflow.clean import REASONS, CleanConfig, clean
from astroflow.errors import ConfigError

DROPS = [f"n_{r}" for r in REASONS]


def catalogue(rows, objects=None, bands=("g", "r")):
    obs = pd.DataFrame(rows, columns=["object_id", "time", "band", "value", "error"])
    ids = objects if objects is not None else list(dict.fromkeys(obs["object_id"]))
    return Catalogue(obs=obs, objects=pd.DataFrame({"object_id": ids, "label": ["x"] * len(ids)}),
                     bands=list(bands))


def steady(object_id="a", n=10, band="g", start=0.0, value=15.0, error=0.01):
    """n well-behaved points, alternating slightly around ``value``."""
    return [(object_id, start + i, band, value + 0.01 * (-1) ** i, error) for i in range(n)]


def check_accounting(cat, out, qc):
    assert (qc["n_input"] == qc["n_kept"] + qc[DROPS].sum(axis=1)).all()
    assert qc["n_input"].sum() == cat.n_obs
    assert out.n_obs == qc.loc[qc["kept"], "n_kept"].sum()
    assert list(out.objects["object_id"]) == list(qc.loc[qc["kept"], "object_id"])


def qc_row(qc, object_id):
    return qc.set_index("object_id").loc[object_id]


def test_clean_data_passes_untouched():
    cat = catalogue(steady("a") + steady("a", band="r") + steady("b"))
    out, qc = clean(cat)
    check_accounting(cat, out, qc)
    assert out.n_obs == 30 and qc["kept"].all() and (qc["reason"] == "").all()
    assert (qc[DROPS].to_numpy() == 0).all()


@pytest.mark.parametrize("bad, reason", [
    (("a", 100.5, "q", 15.0, 0.01), "unknown_band"),
    (("a", np.nan, "g", 15.0, 0.01), "nonfinite"),
    (("a", 100.5, "g", np.inf, 0.01), "nonfinite"),
    (("a", 100.5, "g", 15.0, np.nan), "nonfinite"),
    (("a", 100.5, "g", 15.0, -0.01), "bad_error"),
    (("a", 100.5, "g", 15.0, 0.0), "bad_error"),
    (("a", 3.0, "g", 15.0, 0.01), "duplicate"),
    (("a", 100.5, "g", 19.0, 0.01), "outlier"),
])
def test_each_drop_reason(bad, reason):
    cat = catalogue(steady("a", n=60) + [bad])
    out, qc = clean(cat)
    check_accounting(cat, out, qc)
    row = qc_row(qc, "a")
    assert row[f"n_{reason}"] == 1 and row["n_kept"] == 60
    assert row[[d for d in DROPS if d != f"n_{reason}"]].sum() == 0


def test_max_error():
    cat = catalogue(steady("a", n=10) + [("a", 20.0, "g", 15.0, 0.5)])
    assert qc_row(clean(cat)[1], "a")["n_bad_error"] == 0
    assert qc_row(clean(cat, CleanConfig(max_error=0.2))[1], "a")["n_bad_error"] == 1


def test_short_band_and_short_object():
    cat = catalogue(steady("a", n=10) + steady("a", n=2, band="r") + steady("b", n=4))
    out, qc = clean(cat)
    check_accounting(cat, out, qc)
    assert qc_row(qc, "a")["n_short_band"] == 2 and qc_row(qc, "a")["kept"]
    assert set(out.obs["band"]) == {"g"}
    b = qc_row(qc, "b")
    assert b["n_short_band"] == 0 and b["n_kept"] == 4 and not b["kept"]
    assert b["reason"] == "fewer than 5 points after cleaning"
    assert "b" not in set(out.obs["object_id"])


def test_duplicates_merged_by_inverse_variance():
    rows = steady("a", n=6) + [("a", 2.0, "g", 16.0, 0.02)]  # duplicates time 2.0 (value 15.01, error 0.01)
    out, _ = clean(catalogue(rows), CleanConfig(clip_sigma=None))
    merged = out.obs[out.obs["time"] == 2.0]
    w1, w2 = 1 / 0.01**2, 1 / 0.02**2
    assert len(merged) == 1
    assert merged["value"].iloc[0] == pytest.approx((w1 * 15.01 + w2 * 16.0) / (w1 + w2))
    assert merged["error"].iloc[0] == pytest.approx(1 / np.sqrt(w1 + w2))
    first, _ = clean(catalogue(rows), CleanConfig(clip_sigma=None, merge="first"))
    assert first.obs.loc[first.obs["time"] == 2.0, "value"].iloc[0] == pytest.approx(15.01)


def test_time_tolerance_merges_near_times():
    rows = steady("a", n=6) + [("a", 2.0 + 1e-5, "g", 15.0, 0.01)]
    assert qc_row(clean(catalogue(rows))[1], "a")["n_duplicate"] == 0
    assert qc_row(clean(catalogue(rows), CleanConfig(time_tolerance=1e-4))[1], "a")["n_duplicate"] == 1


def test_same_time_in_two_bands_is_not_a_duplicate():
    out, qc = clean(catalogue(steady("a") + steady("a", band="r")))
    assert qc["n_duplicate"].sum() == 0 and out.n_obs == 20


def test_clipping_spares_many_deviant_points_but_takes_a_rare_one():
    # an eclipsing binary: 10% of points in eclipse are signal, not outliers
    rows = steady("a", n=90) + [("a", 100.0 + i, "g", 16.0, 0.01) for i in range(10)]
    assert qc_row(clean(catalogue(rows))[1], "a")["n_outlier"] == 0
    assert qc_row(clean(catalogue(rows), CleanConfig(clip_max_fraction=None))[1], "a")["n_outlier"] == 10
    assert qc_row(clean(catalogue(steady("a", n=90) + [("a", 100.0, "g", 16.0, 0.01)]))[1], "a")["n_outlier"] == 1


def test_clipping_off_and_iterations():
    rows = steady("a", n=100) + [("a", 200.0, "g", 25.0, 0.01), ("a", 201.0, "g", 15.2, 0.01)]
    assert qc_row(clean(catalogue(rows), CleanConfig(clip_sigma=None))[1], "a")["n_outlier"] == 0
    assert qc_row(clean(catalogue(rows), CleanConfig(clip_iterations=1))[1], "a")["n_outlier"] >= 1


def test_unsorted_input_comes_out_sorted():
    rows = steady("b", n=8) + steady("a", n=8) + steady("a", n=8, band="r")
    rng = np.random.default_rng(0)
    cat = catalogue([rows[i] for i in rng.permutation(len(rows))], objects=["a", "b"])
    out, qc = clean(cat)
    check_accounting(cat, out, qc)
    assert_sorted(out.obs)


def test_bands_option_drops_and_orders():
    cat = catalogue(steady("a") + steady("a", band="r"))
    out, qc = clean(cat, CleanConfig(bands=["r"]))
    assert qc_row(qc, "a")["n_unknown_band"] == 10 and out.bands == ["r"] and set(out.obs["band"]) == {"r"}


def test_empty_catalogue():
    out, qc = clean(Catalogue.empty())
    assert out.n_obs == 0 and out.n_objects == 0 and len(qc) == 0
    assert list(qc.columns) == ["object_id", "n_input", *DROPS, "n_kept", "kept", "reason"]


def test_one_point_object_and_object_without_observations():
    cat = catalogue([("a", 1.0, "g", 15.0, 0.01)] + steady("b"), objects=["a", "b", "c"])
    out, qc = clean(cat)
    check_accounting(cat, out, qc)
    assert qc_row(qc, "a")["n_short_band"] == 1 and not qc_row(qc, "a")["kept"]
    assert qc_row(qc, "c")["reason"] == "no observations" and qc_row(qc, "c")["n_input"] == 0
    assert list(out.objects["object_id"]) == ["b"]


def test_all_nan_band():
    rows = steady("a") + [("a", float(i), "r", np.nan, 0.01) for i in range(10)]
    out, qc = clean(catalogue(rows))
    assert qc_row(qc, "a")["n_nonfinite"] == 10 and qc_row(qc, "a")["kept"]
    assert set(out.obs["band"]) == {"g"}


def test_objects_only_in_obs_are_kept_with_their_rows():
    cat = catalogue(steady("a") + steady("z"), objects=["a"])
    out, _ = clean(cat)
    assert list(out.objects["object_id"]) == ["a", "z"] and out.n_obs == 20


def test_missing_object_id_is_an_error():
    cat = catalogue(steady("a") + [(None, 1.0, "g", 15.0, 0.01)], objects=["a"])
    with pytest.raises(ValueError, match="without an object_id"):
        clean(cat)


@pytest.mark.parametrize("options", [{"merge": "median"}, {"clip_sigma": 0}, {"min_points": 0},
                                     {"time_tolerance": -1.0}, {"bands": ["g", "g"]}, {"colour": 1}])
def test_bad_config_names_the_key(options):
    with pytest.raises(ConfigError, match="clean."):
        CleanConfig.from_dict(options)


def assert_sorted(obs):
    ids = obs["object_id"].to_numpy()
    starts = np.flatnonzero(np.r_[True, ids[1:] != ids[:-1]]) if len(ids) else []
    assert len(starts) == len(set(ids)), "each object's rows are contiguous"
    same = ids[1:] == ids[:-1]
    assert (np.diff(obs["time"].to_numpy())[same] >= 0).all()


numbers = st.one_of(st.floats(10, 25), st.just(np.nan), st.just(np.inf), st.just(-np.inf))
errors = st.one_of(st.floats(-0.1, 0.5), st.just(np.nan), st.just(0.0))
rows_strategy = st.lists(st.tuples(st.sampled_from("abcd"), st.one_of(st.integers(0, 15).map(float), st.just(np.nan)),
                                   st.sampled_from(["g", "r", "x"]), numbers, errors), max_size=80)


@settings(max_examples=100, deadline=None)
@given(rows=rows_strategy, merge=st.sampled_from(["mean", "first"]), clip=st.sampled_from([None, 3.0, 5.0]),
       min_points=st.integers(1, 6), min_band=st.integers(1, 4))
def test_property_cleaned_output_is_clean_and_accounted(rows, merge, clip, min_points, min_band):
    cat = catalogue(rows, objects=["a", "b", "c", "d", "e"])
    config = CleanConfig(merge=merge, clip_sigma=clip, min_points=min_points, min_points_per_band=min_band)
    out, qc = clean(cat, config)
    check_accounting(cat, out, qc)
    obs = out.obs
    assert_sorted(obs)
    assert np.isfinite(obs[["time", "value", "error"]].to_numpy()).all()
    assert (obs["error"] > 0).all()
    assert not obs.duplicated(["object_id", "band", "time"]).any()
    assert set(obs["band"]) <= {"g", "r"}
    assert (obs.groupby("object_id").size() >= min_points).all()
    assert (obs.groupby(["object_id", "band"]).size() >= min_band).all()
    assert qc_row(qc, "e")["reason"] == "no observations"


def test_simulated_survey_cleans_with_few_losses():
    from astroflow.sources.simulate import simulate_survey

    cat = simulate_survey(6, seed=3, min_points=50, max_points=300)
    out, qc = clean(cat)
    check_accounting(cat, out, qc)
    assert_sorted(out.obs)
    assert qc["n_outlier"].sum() < 0.01 * cat.n_obs  # eclipses and supernova tails are not clipped away


@pytest.mark.parametrize("n_objects, jitter", [(1000, 1.0), (2_000_000, 1e-7)])
def test_time_order_matches_lexsort_even_where_the_fast_key_rounds(n_objects, jitter):
    from astroflow.clean import _time_order

    rng = np.random.default_rng(0)
    obj = np.sort(rng.integers(0, n_objects, 50_000))
    obj[-10:] = n_objects - 1  # the last object's rank times a 3000-day span is far beyond float64's 1e-7 days
    time = 50000 + rng.uniform(0, 3000, len(obj))
    time[-10:] = 53000 + jitter * rng.permutation(10)
    np.testing.assert_array_equal(_time_order(obj, time), np.lexsort((time, obj)))


@pytest.mark.parametrize("bad, reason", [
    (("a", 100.5, "g", 1e30, 0.01), "out_of_range"),  # in a band too short to clip
    (("a", 100.5, "g", 99.99, 0.01), "out_of_range"),  # a catalogue's 'no measurement' code
    (("a", 100.5, "g", -31.0, 0.01), "out_of_range"),
    (("a", 100.5, "g", 15.0, 1e39), "out_of_range"),  # finite as float64, inf as float32
])
def test_absurd_magnitudes_are_dropped_in_short_bands(bad, reason):
    cat = catalogue(steady("a", n=60) + steady("a", n=3, band="r")[:2] + [bad[:2] + ("r",) + bad[3:]])
    out, qc = clean(cat, CleanConfig(min_points_per_band=1))
    check_accounting(cat, out, qc)
    assert qc_row(qc, "a")[f"n_{reason}"] == 1
    assert np.isfinite(out.obs[["value", "error"]].to_numpy(dtype=np.float32)).all()
    assert out.obs["value"].abs().max() < 20


def test_flux_range_and_float32_overflow():
    rows = steady("a", n=10, value=100.0) + [("a", 50.5, "g", 1e39, 1.0), ("a", 51.5, "g", -1e16, 1.0),
                                             ("a", 52.5, "g", -40.0, 1.0)]
    cat = catalogue(rows)
    cat = Catalogue(obs=cat.obs, objects=cat.objects, quantity="flux", unit="uJy", bands=["g", "r"])
    out, qc = clean(cat, CleanConfig(clip_sigma=None))
    assert qc_row(qc, "a")["n_out_of_range"] == 2  # a negative flux is a measurement; -40 mag would not be
    assert out.n_obs == 11
    _, qc = clean(cat, CleanConfig(clip_sigma=None, max_abs_flux=None))
    assert qc_row(qc, "a")["n_out_of_range"] == 1  # the float32 overflow is dropped whatever the range


def test_physical_range_settings_are_checked():
    with pytest.raises(ConfigError, match="clean.min_mag"):
        CleanConfig(min_mag=40.0, max_mag=30.0)
    with pytest.raises(ConfigError, match="clean.max_abs_flux"):
        CleanConfig(max_abs_flux=0)


def test_store_refuses_a_float32_overflow(tmp_path):
    from astroflow.store import write_store

    cat = catalogue(steady("a") + [("a", 50.5, "g", 15.0, 1e39)])
    with pytest.raises(ValueError, match="'a' overflows float32"):
        write_store(cat, tmp_path / "s.zarr")


def test_group_median_is_pandas_group_median_exactly():
    from astroflow.clean import _group_median

    rng = np.random.default_rng(0)
    sizes = rng.integers(1, 300, 400)  # odd and even, 1 to 299 values, in rows of widths 1 to 512
    group = np.repeat(np.sort(rng.choice(800, len(sizes), replace=False)), sizes)  # half the codes get no values
    values = np.round(rng.normal(15, 1, len(group)), 2)  # ties
    want = np.full(800, np.nan)
    medians = pd.Series(values).groupby(group).median()
    want[medians.index] = medians.to_numpy()
    np.testing.assert_array_equal(_group_median(group, values, 800), want)
    assert np.isnan(_group_median(group[:0], values[:0], 3)).all()


def test_duplicate_merge_equals_sums_over_every_run():
    """Only runs of several rows are summed; a row alone still goes through the weighted mean's rounding."""
    from astroflow.clean import _merge_duplicates

    rng = np.random.default_rng(1)
    obj = np.sort(rng.integers(0, 300, 5000))
    time = np.round(rng.uniform(0, 30, len(obj)), 0)  # many repeated times
    order = np.lexsort((time, obj))
    obj, time = obj[order], time[order]
    value, error = rng.normal(15, 1, len(obj)), rng.uniform(0.01, 0.1, len(obj))
    rows = rng.permutation(len(obj) * 2)[:len(obj)]  # the rows sit anywhere in longer columns
    rows.sort()
    o, t, v, e = (np.zeros(len(obj) * 2) for _ in range(4))
    o[rows], t[rows], v[rows], e[rows] = obj, time, value, error
    o = o.astype(np.int64)
    got_v, got_e = v.copy(), e.copy()
    first = _merge_duplicates(rows, o, t, got_v, got_e, CleanConfig())
    group = np.cumsum(first) - 1
    weight = 1.0 / error**2
    total = np.bincount(group, weight)
    want_v, want_e = v.copy(), e.copy()
    want_v[rows[first]] = np.bincount(group, weight * value) / total
    want_e[rows[first]] = 1.0 / np.sqrt(total)
    assert 0 < (~first).sum() < len(first) // 2
    np.testing.assert_array_equal(got_v, want_v)
    np.testing.assert_array_equal(got_e, want_e)
