"""Light-curve features: stable columns, right values on known curves, never an error on degenerate light curves,
and a finite forest matrix whatever the raw table holds."""
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from astroflow import features
from astroflow.clean import clean
from astroflow.ragged import Ragged
from astroflow.sources.simulate import simulate_survey
from astroflow.store import to_ragged

PER_BAND = [
    "amplitude", "inter_percentile_range_25", "inter_percentile_range_10", "inter_percentile_range_5",
    "magnitude_percentage_ratio_40_5", "magnitude_percentage_ratio_20_5", "mean", "median", "weighted_mean",
    "standard_deviation", "skew", "kurtosis", "beyond_1_std", "beyond_2_std", "stetson_K", "eta", "eta_e",
    "linear_trend", "linear_trend_sigma", "linear_trend_noise", "chi2", "maximum_slope", "cusum",
    "periodogram_period_0", "periodogram_period_s_to_n_0", "periodogram_period_1", "periodogram_period_s_to_n_1",
    "bazin_fit_amplitude", "bazin_fit_baseline", "bazin_fit_reference_time", "bazin_fit_rise_time",
    "bazin_fit_fall_time", "bazin_fit_reduced_chi2", "n_points",
]


def ragged_of(curves: list[list[tuple[float, float, float, int]]], bands=("g", "r")) -> Ragged:
    """A Ragged from per-object lists of (time, value, error, band), each object sorted by time."""
    obs = [sorted(c) for c in curves]
    flat = [p for c in obs for p in c]
    column = (lambda k, dtype: np.array([p[k] for p in flat], dtype=dtype))
    return Ragged(time=column(0, np.float64), value=column(1, np.float32), error=column(2, np.float32),
                  band=column(3, np.int8), row_size=[len(c) for c in obs], bands=list(bands))


def sine(n: int, period: float, band: int, amplitude: float = 0.5, mean: float = 15.0, seed: int = 0):
    t = np.sort(np.random.default_rng(seed).uniform(0, 1500, n))
    return [(ti, mean + amplitude * np.sin(2 * np.pi * ti / period), 0.01, band) for ti in t]


def degenerate() -> Ragged:
    """Two points in one band (the other empty), constant values, one point, no points, and observations the
    package cannot take (a repeated time, NaN value, zero error)."""
    return ragged_of([
        [(0.0, 15.0, 0.1, 0), (1.0, 15.5, 0.1, 0)],
        [(float(t), 17.0, 0.05, t % 2) for t in range(12)],
        [(3.0, 18.0, 0.1, 1)],
        [],
        [(0.0, 15.0, 0.1, 0), (0.0, 15.2, 0.1, 0), (1.0, np.nan, 0.1, 0), (2.0, 15.1, 0.0, 0), (3.0, 15.3, 0.1, 0),
         (4.0, 15.0, 0.1, 1)],
    ])


def test_columns_are_stable():
    assert features.columns(["g", "r"]) == [f"{f}_{b}" for f in PER_BAND for b in "gr"] + ["colour_g_r"]
    assert features.columns(["u", "g", "r"])[-2:] == ["colour_u_g", "colour_g_r"]


@pytest.mark.parametrize("quantity", ["mag", "flux"])
def test_degenerate_light_curves_give_nan_never_an_error(quantity):
    ragged = degenerate()
    table = features.extract(ragged, quantity, n_jobs=1)
    assert list(table.columns) == ["object_id", *features.columns(["g", "r"])]
    assert table["object_id"].tolist() == ["0", "1", "2", "3", "4"]
    assert table["n_points_g"].tolist() == [2, 6, 0, 0, 2]  # object 4: repeated time, NaN and zero error left out
    assert table["n_points_r"].tolist() == [0, 6, 1, 0, 1]
    assert table.loc[3].drop(["object_id", "n_points_g", "n_points_r"]).isna().all()
    assert table.loc[0, [c for c in table if c.endswith("_r") and c != "n_points_r"]].isna().all()  # empty band
    assert table.loc[1, "amplitude_g"] == 0 and np.isnan(table.loc[1, "skew_g"])  # constant: defined or NaN
    assert table.loc[0, "amplitude_g"] == pytest.approx(0.25)
    x, imputed = features.matrix(table, features.columns(["g", "r"]))
    assert x.dtype == np.float32 and np.isfinite(x).all()
    raw = table[features.columns(["g", "r"])].to_numpy(dtype=float)
    assert list(imputed.values()) == (~np.isfinite(raw)).sum(axis=0).tolist()
    assert (x[~np.isfinite(raw)] == features.FILL).all()


def test_matrix_imputes_values_beyond_float32():
    frame = pd.DataFrame({"a": [1.0, 1e300, -np.inf, np.nan, 2.0]})
    x, imputed = features.matrix(frame, ["a"], fill=-1.0)
    assert x[:, 0].tolist() == [1.0, -1.0, -1.0, -1.0, 2.0] and imputed == {"a": 3}


def test_known_curves_give_the_right_values():
    ragged = ragged_of([sine(150, 0.31, 0) + sine(120, 0.31, 1, amplitude=0.3, mean=14.6, seed=1)])
    row = features.extract(ragged, "mag", n_jobs=1).loc[0]
    assert row["periodogram_period_0_g"] == pytest.approx(0.31, rel=1e-3)  # short periods are on the grid
    assert row["amplitude_g"] == pytest.approx(0.5, abs=0.01) and row["amplitude_r"] == pytest.approx(0.3, abs=0.01)
    assert row["colour_g_r"] == pytest.approx(row["mean_g"] - row["mean_r"])
    assert row["n_points_g"] == 150 and row["n_points_r"] == 120


def test_bazin_fit_recovers_a_supernova_in_magnitudes_and_in_fluxes():
    t = np.arange(0.0, 120.0, 2.0)
    flux = 1000 * np.exp(-(t - 30) / 25) / (1 + np.exp(-(t - 30) / 3)) + 100
    flux += np.random.default_rng(0).normal(0, 10, len(t))  # sky-limited: the same flux error everywhere
    mag = features.ZERO_POINT - 2.5 * np.log10(flux)
    for quantity, value, error in (("flux", flux, np.full_like(t, 10)), ("mag", mag, 2.5 / np.log(10) * 10 / flux)):
        ragged = ragged_of([[(ti, v, e, 0) for ti, v, e in zip(t + 58000, value, error, strict=True)]], bands=["g"])
        row = features.extract(ragged, quantity, n_jobs=1).loc[0]
        assert row["bazin_fit_rise_time_g"] == pytest.approx(3, rel=0.05)
        assert row["bazin_fit_fall_time_g"] == pytest.approx(25, rel=0.05)
        assert row["bazin_fit_reference_time_g"] == pytest.approx(30, abs=0.5)  # days since the first observation


def test_flux_colours_need_positive_means():
    ragged = ragged_of([[(0.0, 100.0, 1.0, 0), (1.0, 10.0, 1.0, 1)], [(0.0, 100.0, 1.0, 0), (1.0, -5.0, 1.0, 1)]])
    colour = features.extract(ragged, "flux", n_jobs=1)["colour_g_r"]
    assert colour[0] == pytest.approx(-2.5) and np.isnan(colour[1])


def test_simulated_survey_features_are_finite_once_imputed():
    cat, _ = clean(simulate_survey(2, seed=5, min_points=20, max_points=80))
    ragged = to_ragged(cat)
    table = features.extract(ragged, "mag", n_jobs=1)
    assert len(table) == len(ragged) and (table["n_points_B"] + table["n_points_R"] == ragged.row_size).all()
    assert table["amplitude_B"].notna().all()
    x, _ = features.matrix(table, features.columns(ragged.bands))
    assert np.isfinite(x).all()


def test_unknown_quantity_is_refused():
    with pytest.raises(ValueError, match="quantity"):
        features.extract(degenerate(), "counts")


point = st.tuples(st.integers(0, 40), st.sampled_from([0.0, 1.0, 15.0, 1e6]), st.floats(-1, 1),
                  st.sampled_from([1e-6, 0.1, 10.0]), st.integers(0, 1))


@settings(max_examples=40, deadline=None)
@given(st.lists(st.lists(point, max_size=8), min_size=1, max_size=4), st.sampled_from(["mag", "flux"]))
def test_any_small_light_curves_extract(curves, quantity):
    ragged = ragged_of([[(float(t), base + dv, err, band) for t, base, dv, err, band in c] for c in curves])
    table = features.extract(ragged, quantity, n_jobs=1)
    assert table.shape == (len(curves), 1 + len(features.columns(["g", "r"])))
    assert np.isfinite(features.matrix(table, features.columns(["g", "r"]))[0]).all()
