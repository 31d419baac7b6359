import numpy as np
import pandas as pd
import pytest
from astropy.timeseries import LombScargle

from astroflow.errors import ConfigError
from astroflow.sources.simulate import CLASSES, POGSON, simulate_survey

PERIODIC = {"RRab", "RRc", "Cepheid", "EB_detached", "EB_contact", "DSCT", "LPV"}


@pytest.fixture(scope="module")
def survey():
    return simulate_survey(4, "macho", seed=7, min_points=20, max_points=300)


def per_object(cat):
    return {oid: g for oid, g in cat.obs.groupby("object_id", sort=False)}


def test_classes_ids_and_truth(survey):
    objects = survey.objects
    assert list(objects["label"].value_counts().sort_index().index) == sorted(CLASSES)
    assert (objects["label"].value_counts() == 4).all()
    assert objects["object_id"].str.fullmatch(r"sim-\d{6}").all() and objects["object_id"].is_unique
    periodic = objects["label"].isin(PERIODIC)
    assert (objects.loc[periodic, "period"] > 0).all() and objects.loc[~periodic, "period"].isna().all()
    extragalactic = objects["label"].isin({"QSO", "SNIa", "SNII"})
    assert (objects.loc[extragalactic, "redshift"] > 0).all() and objects.loc[~extragalactic, "redshift"].isna().all()
    assert objects["ra"].between(0, 360).all() and objects["dec"].between(-90, 90).all()
    assert survey.quantity == "mag" and survey.unit == "mag"
    assert set(survey.obs["object_id"]) <= set(objects["object_id"])


def test_same_seed_same_catalogue_other_seed_differs(survey):
    again = simulate_survey(4, "macho", seed=7, min_points=20, max_points=300)
    pd.testing.assert_frame_equal(survey.obs, again.obs)
    pd.testing.assert_frame_equal(survey.objects, again.objects)
    other = simulate_survey(4, "macho", seed=8, min_points=20, max_points=300)
    assert not np.array_equal(survey.obs["value"].to_numpy()[:50], other.obs["value"].to_numpy()[:50])


def test_a_class_does_not_depend_on_the_size_of_others():
    few = simulate_survey({"RRab": 3, "QSO": 2}, seed=1, min_points=20, max_points=200)
    many = simulate_survey({"RRab": 3, "QSO": 9}, seed=1, min_points=20, max_points=200)
    rr = few.objects.loc[few.objects["label"] == "RRab", "object_id"]
    pd.testing.assert_frame_equal(few.obs[few.obs["object_id"].isin(rr)],
                                  many.obs[many.obs["object_id"].isin(rr)])


@pytest.mark.parametrize("bands, expected", [("macho", ["B", "R"]), ("lsst", list("ugrizy")), (["g", "r"], ["g", "r"])])
def test_band_presets(bands, expected):
    cat = simulate_survey({"NonVar": 5}, bands, seed=0, min_points=200, max_points=300)
    assert cat.bands == expected and set(cat.obs["band"]) == set(expected)


@pytest.mark.parametrize("kwargs", [{"bands": "hst"}, {"bands": ["g", "K"]}, {"bands": []},
                                    {"n_per_class": {"Blazar": 3}}, {"n_per_class": {"QSO": -1}},
                                    {"min_points": 50, "max_points": 10}, {"years": 0}, {"outlier_fraction": 1.5}])
def test_bad_arguments_name_the_key(kwargs):
    kwargs = {"n_per_class": 1, **kwargs}
    with pytest.raises(ConfigError):
        simulate_survey(**kwargs)


def test_lengths_range_from_tens_to_a_thousand():
    cat = simulate_survey({"NonVar": 60, "RRab": 60}, seed=3, mag_range=(15.0, 18.0))
    sizes = cat.obs.groupby("object_id").size()
    assert sizes.max() <= 1000 and sizes.min() >= 15
    assert sizes.min() < 60 and sizes.max() > 500


def test_seasonal_gaps_and_multi_year_baseline():
    cat = simulate_survey({"NonVar": 10}, seed=2, min_points=300, max_points=400, mag_range=(15.0, 16.0))
    for g in per_object(cat).values():
        t = np.sort(g["time"].to_numpy())
        assert t[-1] - t[0] > 6 * 365
        gap = np.diff(t).max()
        assert 365.25 - 240 - 5 < gap < 365.25 - 180 + 60  # the unseen months of the year
        seen_days = np.unique(np.floor(t - t[0]) % 365.25 // 30)  # months of the year with visits
        assert 5 <= len(seen_days) <= 9


def test_bands_sampled_asynchronously_unless_asked():
    kwargs = {"n_per_class": {"NonVar": 8}, "seed": 4, "min_points": 200, "max_points": 300,
              "mag_range": (15.0, 16.0)}
    for g in per_object(simulate_survey(**kwargs)).values():
        b, r = (set(g.loc[g["band"] == band, "time"]) for band in ("B", "R"))
        assert len(b & r) < 0.05 * min(len(b), len(r))
    counts = simulate_survey(**kwargs).obs.groupby(["object_id", "band"]).size().unstack()
    assert (counts["B"] != counts["R"]).mean() > 0.5
    for g in per_object(simulate_survey(**kwargs, synchronous=True)).values():
        assert set(g.loc[g["band"] == "B", "time"]) == set(g.loc[g["band"] == "R", "time"])


def test_errors_grow_toward_the_faint_limit_and_respect_detection():
    cat = simulate_survey({"NonVar": 200}, seed=5, min_points=20, max_points=60, mag_range=(14.0, 20.5),
                          outlier_fraction=0)
    obs = cat.obs[cat.obs["band"] == "B"]
    binned = obs.groupby(pd.cut(obs["value"], np.arange(14.0, 21.5, 1.0)), observed=True)["error"].median()
    assert np.all(np.diff(binned.to_numpy()) > 0)
    assert binned.iloc[-1] > 5 * binned.iloc[0]
    assert cat.obs["error"].max() <= POGSON / 3.0 + 1e-12


def test_outliers_appear_at_the_asked_rate():
    kwargs = {"n_per_class": {"NonVar": 30}, "seed": 6, "min_points": 300, "max_points": 400,
              "mag_range": (15.0, 16.0)}

    def far(cat):
        median = cat.obs.groupby(["object_id", "band"])["value"].transform("median")
        return ((cat.obs["value"] - median).abs() > 0.4).mean()
    assert far(simulate_survey(**kwargs, outlier_fraction=0.0)) == 0
    assert 0.03 < far(simulate_survey(**kwargs, outlier_fraction=0.05)) < 0.07


def test_rr_lyrae_periods_recoverable_by_lomb_scargle():
    cat = simulate_survey({"RRab": 6, "RRc": 4}, seed=9, min_points=200, max_points=300, mag_range=(15.0, 17.0))
    period = cat.objects.set_index("object_id")["period"]
    for oid, g in per_object(cat).items():
        g = g[g["band"] == "R"]
        frequency, power = LombScargle(g["time"], g["value"], g["error"]).autopower(
            minimum_frequency=1 / 1.0, maximum_frequency=1 / 0.2, samples_per_peak=5, method="fast")
        assert 1 / frequency[np.argmax(power)] == pytest.approx(period[oid], rel=2e-3), oid


def test_supernova_peaks_inside_the_baseline():
    cat = simulate_survey({"SNIa": 15, "SNII": 15}, "lsst", seed=10)
    brightest = cat.obs.loc[cat.obs.groupby("object_id")["value"].idxmin(), "time"]
    start, end = 60980.0, 60980.0 + 10 * 365.25
    assert brightest.between(start, end).all()
    spans = cat.obs.groupby("object_id")["time"].agg(np.ptp)
    assert spans.max() < 2 * 365  # an event, not a whole survey


@pytest.mark.realdata
def test_rr_lyrae_match_stripe82(realdata_dir):
    real = pd.read_csv(realdata_dir / "sdss_s82_rrlyrae" / "csv" / "RRLyrae" / "periods.csv")
    sim = simulate_survey({"RRab": 400, "RRc": 100}, seed=0, min_points=20, max_points=21).objects
    for kind, label in (("ab", "RRab"), ("c", "RRc")):
        p_real = real.loc[real["Type"] == kind, "Per"]
        p_sim = sim.loc[sim["label"] == label, "period"]
        assert p_sim.median() == pytest.approx(p_real.median(), rel=0.03)
        assert np.log10(p_sim).std() == pytest.approx(np.log10(p_real).std(), rel=0.25)
