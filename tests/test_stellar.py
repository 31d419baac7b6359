"""StelNet (astroflow.stellar): the grid split, the prior, the vectorised ensemble, the mixture posterior, the CLI."""
import json

import numpy as np
import pandas as pd
import pytest
import torch

from astroflow.cli import main
from astroflow.errors import ConfigError, InputError
from astroflow.stellar import model as nets
from astroflow.stellar.evaluate import benchmarks, holdback, scores, within_truth_error
from astroflow.stellar.grids import CalibrationConfig, GridConfig, build, load_grid
from astroflow.stellar.posterior import PriorConfig, StelNet, finite_percentiles, imf, mixture_quantiles
from astroflow.stellar.stars import InputErrors, estimate

GRID = GridConfig(samples=300, mass_range=[0.3, 5.0])
CALIBRATION = CalibrationConfig(points=150)
TRAIN = nets.TrainConfig(members=2, epochs=40, log_every=20)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A tiny StelNet on MIST: grid samples, tables and both branches' ensembles."""
    root = tmp_path_factory.mktemp("stelnet")
    samples = build(GRID, root / "grid" / "samples.parquet", root / "grid" / "tables.npz",
                    root / "grid" / "calibration_points.parquet", CALIBRATION)
    for branch in ("pre", "post"):
        nets.train(root / "grid" / "samples.parquet", branch, 0, TRAIN, root / "models" / branch / "g0.pt")
    return root, samples


def stelnet(root, **prior):
    return StelNet(sorted((root / "models").glob("*/g*.pt")), root / "grid" / "tables.npz", PriorConfig(**prior))


def test_imf_is_normalised_continuous_and_has_the_slopes():
    mass_range = (0.05, 20.0)
    m = np.geomspace(*mass_range, 200_001)
    p = imf(m, [0.3, 1.3, 2.3], [0.08, 0.5], mass_range)
    assert np.trapezoid(p, m) == pytest.approx(1.0, rel=1e-4)
    for b in (0.08, 0.5):  # continuous at the breaks
        left, right = imf(np.array([b * (1 - 1e-9), b * (1 + 1e-9)]), [0.3, 1.3, 2.3], [0.08, 0.5], mass_range)
        assert left == pytest.approx(right, rel=1e-6)
    for lo, slope in ((1.0, 2.3), (0.2, 1.3), (0.06, 0.3)):  # dN/dM ~ M^-slope within each segment
        a, b = imf(np.array([lo, lo * 1.1]), [0.3, 1.3, 2.3], [0.08, 0.5], mass_range)
        assert np.log(b / a) / np.log(1.1) == pytest.approx(-slope)
    assert imf(np.array([0.01, 30.0]), [0.3, 1.3, 2.3], [0.08, 0.5], mass_range).tolist() == [0.0, 0.0]


def test_bad_imf_breaks_name_the_key():
    with pytest.raises(ConfigError, match="stellar.posterior.imf_breaks"):
        PriorConfig(imf_slopes=[1.3, 2.3], imf_breaks=[0.08, 0.5])


def test_grid_splits_at_the_zams_and_holds_back_whole_tracks(trained):
    _, samples = trained
    pre, post = samples[samples["branch"] == "pre"], samples[samples["branch"] == "post"]
    assert set(pre["phase"]) == {-1} and set(post["phase"]) <= {0, 2, 3} and 0 in set(post["phase"])
    held = samples[samples["held_back"]]
    assert len(held) and not set(held["track"]) & set(samples.loc[~samples["held_back"], "track"])
    assert samples["log_mass"].between(np.log10(0.3), np.log10(5.0)).all()


def test_time_in_each_phase(trained):
    root, _ = trained
    with np.load(root / "grid" / "tables.npz") as t:
        years, log_mass = t["duration"][:, 0], t["duration_log_mass"]
    sun = np.argmin(np.abs(log_mass))
    assert 1e7 < years[0, sun] < 1e8  # the Sun's pre-MS lasts some tens of Myr
    assert years[1, sun] > 100 * years[0, sun]  # and its main sequence far longer
    assert years[0, 0] > years[0, -1]  # low-mass stars contract for longer


def test_unknown_grid_or_metallicity_is_a_clear_error():
    with pytest.raises(ConfigError, match="stellar.grid.name"):
        GridConfig(name="nope")
    with pytest.raises(ConfigError, match="stellar.grid.feh"):
        load_grid("mist", [0.1])


def test_vectorised_ensemble_equals_members_trained_alone():
    rng = np.random.default_rng(1)
    x, y = rng.random((64, 2)), rng.random((64, 2))
    cfg = nets.TrainConfig(members=3, epochs=15, hidden_layers=3, width=8, log_every=100)
    together, _ = nets.fit(x, y, cfg, [0, 1, 2])
    for k in range(3):
        alone, _ = nets.fit(x, y, cfg, [k])
        for a, b in zip(alone.parameters(), together.parameters()):
            torch.testing.assert_close(a[0], b[k], rtol=1e-5, atol=1e-6)


def test_same_seed_same_network_other_seed_another():
    rng = np.random.default_rng(2)
    x, y = rng.random((50, 2)), rng.random((50, 2))
    cfg = nets.TrainConfig(members=2, epochs=10, hidden_layers=2, width=8)
    first, second = nets.fit(x, y, cfg, [0, 1])[0], nets.fit(x, y, cfg, [0, 1])[0]
    other = nets.fit(x, y, nets.TrainConfig(**{**cfg.__dict__, "seed": 1}), [0, 1])[0]
    for a, b, c in zip(first.parameters(), second.parameters(), other.parameters()):
        assert torch.equal(a, b) and not torch.equal(a, c)


def test_killed_training_resumes_exactly(tmp_path, caplog):
    caplog.set_level("INFO", logger="astroflow")
    rng = np.random.default_rng(3)
    x, y = rng.random((40, 2)), rng.random((40, 2))
    cfg = nets.TrainConfig(members=2, epochs=12, hidden_layers=2, width=8, checkpoint_every=4)
    straight, _ = nets.fit(x, y, cfg, [0, 1])
    ckpt = tmp_path / "g0.pt.checkpoint"
    nets.fit(x, y, nets.TrainConfig(**{**cfg.__dict__, "epochs": 9}), [0, 1], checkpoint=ckpt)  # killed after 9
    assert torch.load(ckpt, weights_only=True)["epoch"] == 8
    resumed, _ = nets.fit(x, y, cfg, [0, 1], checkpoint=ckpt, name="stelnet post-MS g0")
    for a, b in zip(straight.parameters(), resumed.parameters()):
        assert torch.equal(a, b)
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("stelnet post-MS g0: ")]
    assert lines[0].startswith("stelnet post-MS g0: resumed from") and lines[-1].startswith(
        "stelnet post-MS g0: epoch 12/12 train loss")  # the progress lines name the run


def test_groups_merge_into_the_whole_ensemble(trained, tmp_path):
    root, _ = trained
    cfg = nets.TrainConfig(**{**TRAIN.__dict__, "groups": 2})
    for g in (0, 1):
        nets.train(root / "grid" / "samples.parquet", "post", g, cfg, tmp_path / f"g{g}.pt")
    merged, card = nets.merge([nets.load(tmp_path / "g1.pt"), nets.load(tmp_path / "g0.pt")])
    whole, _ = nets.load(root / "models" / "post" / "g0.pt")
    assert card.members == [0, 1]
    for a, b in zip(merged.parameters(), whole.parameters()):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)


def test_model_file_is_checked(tmp_path):
    bad = tmp_path / "bad.pt"
    bad.write_text("not a model")
    with pytest.raises(InputError, match="bad.pt"):
        nets.load(bad)


def test_posterior_is_a_mixture_not_an_average(trained):
    root, _ = trained
    net = stelnet(root, draws=200)
    n_members = net.members

    def two_answers(x, cover):  # pre-MS says (6.0, 0.0), post-MS says (9.5, 0.3), at every input
        out = np.zeros((2, n_members, len(x), 2))
        out[0, ..., 0], out[1, ..., 0], out[1, ..., 1] = 6.0, 9.5, 0.3
        return out

    net.branch_predictions = two_answers
    net.weight = lambda branch, log_mass, feh_index: np.ones_like(log_mass)  # equal prior weight
    x = np.array([[3.76, 0.0]])  # the Sun: inside both branches' domains
    draws = net.sample(x, np.zeros_like(x), np.random.default_rng(0))
    assert set(np.unique(draws["log_mass"])) == {0.0, 0.3}  # every draw is one branch's answer, none in between
    assert 0.4 < np.mean(draws["log_mass"] == 0.0) < 0.6
    summary = net.posterior(x, np.zeros_like(x))
    assert summary["p_pre"].iloc[0] == pytest.approx(0.5)
    assert summary["log_mass_p16"].iloc[0] == 0.0 and summary["log_mass_p84"].iloc[0] == pytest.approx(0.3)


def test_prior_prefers_the_branch_a_star_spends_longer_in(trained):
    root, _ = trained
    net = stelnet(root)
    w_pre, w_post = (net.weight(b, np.array([0.0]), np.array([0])) for b in (0, 1))
    assert w_post[0] > 100 * w_pre[0]  # a solar-mass star is far more likely on the main sequence


def test_stars_outside_the_grid_are_flagged_not_extrapolated(trained):
    root, _ = trained
    net = stelnet(root, draws=5)
    x = np.array([[3.76, 0.0], [3.0, 0.0], [3.76, 9.0]])  # the Sun; 1000 K; 10^9 Lsun
    table = net.posterior(x, np.zeros_like(x))
    assert table["outside_grid"].tolist() == [False, True, True]
    assert np.isfinite(table.loc[0, ["log_mass_p50", "log_age_p50"]].to_numpy(float)).all()
    assert table.loc[1:, ["log_mass_p50", "log_age_p50", "mass", "age", "p_pre"]].isna().all().all()


def test_same_seed_same_posterior(trained):
    root, _ = trained
    x = np.array([[3.7, -0.2], [3.6, -0.5]])
    sigma = np.full_like(x, 0.01)
    a, b = stelnet(root).posterior(x, sigma), stelnet(root).posterior(x, sigma)
    pd.testing.assert_frame_equal(a, b)
    c = stelnet(root, seed=3).posterior(x, sigma)
    assert not np.allclose(a["log_mass_p16"], c["log_mass_p16"])


def test_cli_estimates_a_table_and_flags_bad_rows(trained, tmp_path, capsys):
    root, _ = trained
    stars = tmp_path / "stars.csv"
    pd.DataFrame({"name": ["sun", "cold", "bad"], "Teff": [5772, 1000, 5000], "teff_err": [50, 50, 50],
                  "Lum": [1.0, 1.0, -1.0], "lum_err": [0.05, 0.05, 0.05]}).to_csv(stars, index=False)
    out = tmp_path / "out.csv"
    assert main(["stellar", str(stars), "--models", str(root), "--out", str(out), "--draws", "5"]) == 0
    table = pd.read_csv(out)
    assert table["name"].tolist() == ["sun", "cold", "bad"]
    assert np.isfinite(table.loc[0, ["mass", "age", "log_mass_p16", "log_mass_p84", "p_pre"]].to_numpy(float)).all()
    assert table["note"].fillna("").tolist() == ["", "outside the grid (not extrapolated)", "Lum not positive"]
    assert "1 stars estimated" in capsys.readouterr().out


def test_cli_names_a_bad_value_and_a_missing_column(trained, tmp_path, capsys):
    root, _ = trained
    stars = tmp_path / "stars.csv"
    stars.write_text("teff,lum\n5772,1.0\n5000,abc\n")
    assert main(["stellar", str(stars), "--models", str(root), "--out", str(tmp_path / "o.csv")]) == 1
    assert "stars.csv:3: field 'lum': value 'abc' is not a number" in capsys.readouterr().err
    stars.write_text("teff,radius\n5772,1.0\n")
    assert main(["stellar", str(stars), "--models", str(root), "--out", str(tmp_path / "o.csv")]) == 1
    assert "needs a column lum or log_lum" in capsys.readouterr().err
    assert main(["stellar", str(stars), "--models", str(tmp_path), "--out", str(tmp_path / "o.csv")]) == 1
    assert "not a trained StelNet folder" in capsys.readouterr().err


def test_calibration_points_are_held_back_tracks_of_every_grid_and_metallicity(trained):
    root, samples = trained
    points = pd.read_parquet(root / "grid" / "calibration_points.parquet")
    sets = {(g, round(z, 2)) for g, z in points[["grid", "feh"]].itertuples(index=False)}
    assert sets == {(g, z) for g in ("mist", "parsec") for z in (-0.25, 0.0, 0.25)}
    assert not set(points["track"]) & set(samples.loc[~samples["held_back"], "track"])  # never trained on
    assert points.groupby(["grid", "feh", "branch"]).size().max() <= CALIBRATION.points


def test_mixture_quantiles_are_the_posteriors_with_the_model_error():
    draws = np.array([[0.0, np.nan], [1.0, 1.0], [np.nan, np.nan]])
    low, mid, high = mixture_quantiles(draws, np.full_like(draws, 0.1), (16, 50, 84))
    np.testing.assert_allclose(low[:2], [-0.09945, 0.90055], atol=1e-4)  # N(draw, 0.1^2): +-0.9945 sd
    np.testing.assert_allclose(mid[:2], [0.0, 1.0], atol=1e-4)
    assert np.isnan([low[2], mid[2], high[2]]).all()
    rng = np.random.default_rng(0)
    values = np.where(rng.random((50, 30)) < 0.2, np.nan, rng.normal(size=(50, 30)))
    values[3] = np.nan
    with np.errstate(all="ignore"), pytest.warns(RuntimeWarning):
        expected = np.nanpercentile(values, (16, 50, 84), axis=1)
    np.testing.assert_allclose(finite_percentiles(values, (16, 50, 84)), expected, equal_nan=True)


def test_intervals_carry_the_model_error_measured_on_held_back_tracks(trained, tmp_path, capsys):
    """The evaluation fits the model error on held-back tracks and scores cross-fitted intervals; a calibrated
    interval is wider than the ensemble's, its median the same; `astroflow stellar` uses the calibration."""
    root, _ = trained
    grid, models = root / "grid", sorted((root / "models").glob("*/g*.pt"))
    metrics = holdback(models, grid / "tables.npz", PriorConfig(draws=5), grid / "samples.parquet",
                       grid / "calibration_points.parquet", tmp_path / "held.parquet", tmp_path / "metrics.json",
                       tmp_path / "calibration.parquet", "mist")
    errors = pd.read_parquet(tmp_path / "calibration.parquet")
    assert {"error_log_age", "error_log_mass"} <= set(errors) and (errors[["error_log_age", "error_log_mass"]] >= 0).all().all()
    for branch in ("pre", "post"):
        calibrated, plain = (metrics[branch][k]["log_mass"]["coverage_16_84"] for k in ("mixture", "ensemble_only"))
        assert calibrated > plain
        assert metrics[branch]["model_error_median"]["log_mass"] > 0
        # scored again with the trained grid's own tracks alone (MIST at [Fe/H] 0 of the six sets)
        assert metrics[branch]["mixture_own_grid"]["log_mass"]["n"] == metrics[branch]["points"]
        assert metrics[branch]["mixture_own_grid"] != metrics[branch]["mixture"]
    x = np.array([[3.76, 0.0], [3.6, -0.8]])
    plain = stelnet(root, draws=20).posterior(x, np.zeros_like(x))
    calibrated = StelNet(models, grid / "tables.npz", PriorConfig(draws=20), tmp_path / "calibration.parquet")
    wide = calibrated.posterior(x, np.zeros_like(x))
    np.testing.assert_allclose(wide["log_mass_p50"], plain["log_mass_p50"])
    assert (wide["log_mass_p84"] - wide["log_mass_p16"] > plain["log_mass_p84"] - plain["log_mass_p16"]).all()
    assert (wide["log_mass_p16"] <= wide["log_mass_p50"]).all() and (wide["log_mass_p50"] <= wide["log_mass_p84"]).all()
    (root / "evaluate").mkdir(exist_ok=True)
    (tmp_path / "calibration.parquet").rename(root / "evaluate" / "calibration.parquet")
    pd.DataFrame({"log_teff": x[:, 0], "log_lum": x[:, 1]}).to_csv(tmp_path / "stars.csv", index=False)
    assert main(["stellar", str(tmp_path / "stars.csv"), "--models", str(root), "--out", str(tmp_path / "o.csv"),
                 "--draws", "20", "--teff-error", "0", "--lum-error", "0"]) == 0  # as the exact stars above
    np.testing.assert_allclose(pd.read_csv(tmp_path / "o.csv")["log_mass_p16"], wide["log_mass_p16"])
    (root / "evaluate" / "calibration.parquet").unlink()


def test_stars_without_errors_get_the_default_recorded_and_warned(trained, tmp_path, caplog):
    root, _ = trained
    stars = pd.DataFrame({"teff": [5772.0, 5772.0, 4500.0], "lum": [1.0, 1.0, 0.3],
                          "lum_err": [0.023, np.nan, 0.023]})  # no Teff errors; one L error empty
    with caplog.at_level("WARNING", logger="astroflow"):
        out = estimate(stelnet(root, draws=30), stars, "stars.csv")
    np.testing.assert_allclose(out["input_error_log_teff"], 0.05 / np.log(10))
    np.testing.assert_allclose(out["input_error_log_l"], [0.023 / np.log(10), 0.1, 0.023 / 0.3 / np.log(10)])
    assert out["input_error_default"].tolist() == ["log_teff", "log_teff log_l", "log_teff"]
    assert "3 of 3 stars have no log_teff error" in caplog.text and "1 of 3 stars have no log_l error" in caplog.text
    caplog.clear()
    with caplog.at_level("WARNING", logger="astroflow"):
        none = estimate(stelnet(root, draws=30), stars, "stars.csv", defaults=InputErrors(0.0, 0.0))
    assert (none["input_error_log_teff"] == 0).all()
    width = (out["log_mass_p84"] - out["log_mass_p16"]).to_numpy()
    assert (width > (none["log_mass_p84"] - none["log_mass_p16"]).to_numpy()).all()  # not falsely narrow
    given = stars.assign(teff_err=50.0, lum_err=0.023)
    assert estimate(stelnet(root, draws=30), given)["input_error_default"].tolist() == ["", "", ""]
    stars.drop(columns="lum_err").to_csv(tmp_path / "stars.csv", index=False)
    assert main(["stellar", str(tmp_path / "stars.csv"), "--models", str(root), "--out", str(tmp_path / "o.csv"),
                 "--draws", "5", "--teff-error", "0.02", "--lum-error", "0.2"]) == 0
    table = pd.read_csv(tmp_path / "o.csv")
    np.testing.assert_allclose(table[["input_error_log_teff", "input_error_log_l"]], [[0.02 / np.log(10), 0.2]] * 3)
    with pytest.raises(ConfigError, match="stellar.input_errors.log_lum"):
        InputErrors(log_lum=-0.1)


def test_input_error_defaults_are_the_schemas():
    import dataclasses
    from pathlib import Path

    import yaml

    schema = yaml.safe_load((Path(__file__).parents[1] / "workflow" / "schemas" / "config.schema.yaml").read_text())
    section = schema["properties"]["stellar"]["properties"]["input_errors"]["properties"]
    assert dataclasses.asdict(InputErrors()) == {k: v["default"] for k, v in section.items()}


def test_coverage_with_the_truths_error_widens_the_interval_in_quadrature():
    p16, p50, p84 = np.array([0.8]), np.array([1.0]), np.array([1.1])  # asymmetric: 0.2 below, 0.1 above
    truth = np.array([1.0 + 0.15, 1.0 - 0.25, 1.0 + 0.15, 1.0 - 0.25, 1.0 + 0.05, 1.0 + 0.15])
    err = np.array([0.1, 0.1, 0.0, 0.2, np.nan, np.nan])
    # above: sqrt(0.1^2 + 0.1^2) = 0.141 < 0.15; below: sqrt(0.2^2 + 0.1^2) = 0.224 < 0.25; no error: p16..p84
    assert within_truth_error(p16, p50, p84, truth, err).tolist() == [False, False, False, True, True, False]
    assert within_truth_error(p16, p50, p84, np.array([1.14]), np.array([0.1])).tolist() == [True]
    pred = pd.DataFrame({f"{name}_p{q}": [v, v, v, v] for name in ("log_mass", "log_age")
                         for q, v in ((16, 0.8), (50, 1.0), (84, 1.1))})
    truths = pd.DataFrame({"true_log_mass_err": [0.1, 0.1, 0.0, 0.0], "true_log_age_err": [0.0] * 4})
    out = scores(pred, [1.05, 1.05, 1.05, 1.05], [1.14, 0.74, 1.14, 1.05], truths)
    assert out["log_mass"]["coverage_16_84"] == 0.25 and out["log_mass"]["coverage_16_84_with_truth_error"] == 0.5
    assert out["log_age"]["coverage_16_84_with_truth_error"] == out["log_age"]["coverage_16_84"] == 1.0
    assert out["log_mass"]["truth_error_median"] == pytest.approx(0.05)
    assert "coverage_16_84_with_truth_error" not in scores(pred, [1.0] * 4, [1.0] * 4)["log_mass"]


@pytest.mark.realdata
def test_benchmark_tables_are_read_and_scored(trained, realdata_dir, tmp_path):
    folder = realdata_dir / "stelnet_tl_benchmarks"
    if not folder.is_dir():
        pytest.skip(f"{folder} is absent")
    root, _ = trained
    metrics = benchmarks(sorted((root / "models").glob("*/g*.pt")), root / "grid" / "tables.npz",
                         PriorConfig(draws=5), folder, tmp_path / "tables", tmp_path / "metrics.json",
                         tmp_path / "examples.parquet")
    assert json.loads((tmp_path / "metrics.json").read_text())["fgk"]["stars"] == 13
    assert metrics["fgk"]["log_mass"]["n"] >= 10  # the benchmark stars lie on the grid (0.3-5 Msun here)
    assert metrics["tess_gr"]["stars"] == 347 and metrics["onc"]["stars"] == 1616
    for name in ("fgk", "tess_gr", "david_hillenbrand"):  # the truths' own errors: positive, in dex
        assert 0 < metrics[name]["log_mass"]["truth_error_median"] < 0.1, name
        assert metrics[name]["log_mass"]["coverage_16_84_with_truth_error"] >= metrics[name]["log_mass"]["coverage_16_84"]
    assert "coverage_16_84_with_truth_error" not in metrics["onc"]["log_mass"]  # no truth errors
    assert metrics["onc"]["input_error_default"] == {"log_teff": 593, "log_l": 593}  # its stars with Teff and L
    assert metrics["fgk"]["input_error_default"] == {"log_teff": 0, "log_l": 0}
    assert metrics["onc"]["no_input_error"]["log_mass"]["n"] == metrics["onc"]["log_mass"]["n"]  # the same stars
    assert (tmp_path / "tables" / "fgk.parquet").exists() and len(pd.read_parquet(tmp_path / "examples.parquet"))
