"""The spectra branch: readers on synthetic FITS files (and damaged ones), resampling, the simulator's physics, the
store's QC, the metrics, training and prediction end to end on a tiny store."""
import json

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from astropy.io import fits

from astroflow.cli import main
from astroflow.errors import InputError
from astroflow.spectra import formats, inputs
from astroflow.spectra.evaluate import evaluate
from astroflow.spectra.grid import MASK_NO_DATA, Grid, resample
from astroflow.spectra.redshift import redshift_metrics
from astroflow.spectra.simulate import SimulateConfig, noiseless, simulate
from astroflow.spectra.store import build, open_store
from astroflow.spectra.train import split, train

COARSE = {"grid_step": 0.0004}  # 1162 pixels: quick, still resolves every simulated line


def sdss_file(path, n=500, z=0.5, drop=None):
    loglam = 3.58 + 1e-4 * np.arange(n)
    columns = {"FLUX": np.linspace(1, 2, n), "LOGLAM": loglam, "IVAR": np.full(n, 4.0), "AND_MASK": np.zeros(n, int)}
    table = fits.BinTableHDU.from_columns([fits.Column(name=k, format="E" if k != "AND_MASK" else "J", array=v)
                                           for k, v in columns.items() if k != drop])
    specobj = fits.BinTableHDU.from_columns([fits.Column(name="CLASS", format="6A", array=["GALAXY"]),
                                             fits.Column(name="SUBCLASS", format="12A", array=["STARFORMING"]),
                                             fits.Column(name="Z", format="E", array=[z])])
    fits.HDUList([fits.PrimaryHDU(), table, specobj]).writeto(path)
    return path


def test_resample_conserves_flux_and_masks_what_is_not_covered():
    rng = np.random.default_rng(0)
    wavelength = np.linspace(4000, 6000, 3000)
    flux = rng.uniform(0.5, 2.0, len(wavelength))
    grid = Grid(3.62, 3.76, 2e-4)
    out, ivar, mask = resample(wavelength, flux, np.full(len(wavelength), 1.0), grid)
    inside = (grid.edges[:-1] > wavelength[0]) & (grid.edges[1:] < wavelength[-1])
    lo, hi = grid.edges[:-1][inside][0], grid.edges[1:][inside][-1]
    width = np.diff(grid.edges)
    edges = np.concatenate([[wavelength[0] - 0.5 * (wavelength[1] - wavelength[0])],
                            0.5 * (wavelength[1:] + wavelength[:-1]), [wavelength[-1] + 0.5]])
    cumulative = np.concatenate([[0], np.cumsum(flux * np.diff(edges))])
    expected = np.interp(hi, edges, cumulative) - np.interp(lo, edges, cumulative)
    assert np.sum(out[inside] * width[inside]) == pytest.approx(expected, rel=1e-5)
    # Averaging n input pixels of unit ivar gives an output ivar of about n.
    assert np.median(ivar[inside]) == pytest.approx(np.median(width[inside]) / (wavelength[1] - wavelength[0]),
                                                    rel=0.01)
    assert (mask[grid.edges[1:] < wavelength[0]] == MASK_NO_DATA).all() and (ivar[grid.wavelength > 6100] == 0).all()


def test_resample_leaves_out_bad_pixels_and_keeps_a_constant():
    wavelength = np.linspace(4000, 6000, 2001)
    flux = np.full(len(wavelength), 3.0)
    flux[1000:1010] = 1e6  # a cosmic ray, masked
    mask = np.zeros(len(wavelength), int)
    mask[1000:1010] = 1
    out, ivar, m = resample(wavelength, flux, np.ones(len(wavelength)), Grid(3.61, 3.77, 1e-4), mask)
    assert np.allclose(out[m == 0], 3.0) and (ivar[m == 0] > 0).all()


def test_sdss_reader_reads_spectrum_and_labels(tmp_path):
    [s] = formats.read("sdss", sdss_file(tmp_path / "spec-0001-50000-0001.fits"))
    assert s.object_id == "spec-0001-50000-0001" and s.spec_class == "GALAXY" and s.subclass == "STARFORMING"
    assert s.z == pytest.approx(0.5) and s.wavelength[0] == pytest.approx(10 ** 3.58) and len(s.flux) == 500


def test_sdss_reader_names_a_missing_column(tmp_path):
    with pytest.raises(InputError, match=r"HDU 1 has no column 'IVAR'"):
        formats.read("sdss", sdss_file(tmp_path / "spec-1.fits", drop="IVAR"))


@pytest.mark.parametrize("damage", ["truncated", "not_fits", "empty"])
def test_readers_refuse_damaged_files_by_name(tmp_path, damage):
    path = sdss_file(tmp_path / "spec-2.fits")
    data = path.read_bytes()
    path.write_bytes({"truncated": data[: len(data) // 3], "not_fits": b"hello " * 1000, "empty": b""}[damage])
    with pytest.raises(InputError, match="spec-2.fits"):
        formats.read("sdss", path)


def test_lamost_reader_uses_header_grid_and_names_missing_keywords(tmp_path):
    image = np.vstack([np.linspace(1, 2, 300), np.full(300, 2.0), np.ones(300), np.zeros(300), np.zeros(300)])
    header = fits.Header({"CRVAL1": 3.5682, "CD1_1": 1e-4, "CLASS": "STAR", "SUBCLASS": "K5", "Z": 1e-4})
    fits.PrimaryHDU(image.astype(np.float32), header).writeto(tmp_path / "spec-55862-B1_sp01-001.fits")
    [s] = formats.read("lamost", tmp_path / "spec-55862-B1_sp01-001.fits")
    assert s.spec_class == "STAR" and inputs.family(s.spec_class, s.subclass) == "K"
    assert s.wavelength[1] == pytest.approx(10 ** (3.5682 + 1e-4))
    del header["CRVAL1"]
    fits.PrimaryHDU(image.astype(np.float32), header).writeto(tmp_path / "spec-bad.fits")
    with pytest.raises(InputError, match="CRVAL1"):
        formats.read("lamost", tmp_path / "spec-bad.fits")
    fits.PrimaryHDU(image[:2].astype(np.float32), fits.Header({"CRVAL1": 3.5, "CD1_1": 1e-4})).writeto(
        tmp_path / "spec-rows.fits")
    with pytest.raises(InputError, match="shape"):
        formats.read("lamost", tmp_path / "spec-rows.fits")


def test_desi_reader_merges_overlapping_arms_and_joins_redrock(tmp_path):
    hdus = [fits.PrimaryHDU(), fits.BinTableHDU.from_columns(
        [fits.Column(name="TARGETID", format="K", array=[11, 12])], name="FIBERMAP")]
    for arm, start in (("B", 3600.0), ("R", 3680.0), ("Z", 3760.0)):
        wave = start + 0.8 * np.arange(200)
        hdus += [fits.ImageHDU(wave, name=f"{arm}_WAVELENGTH"),
                 fits.ImageHDU(np.full((2, 200), {"B": 1.0, "R": 3.0, "Z": 5.0}[arm], np.float32), name=f"{arm}_FLUX"),
                 fits.ImageHDU(np.ones((2, 200), np.float32), name=f"{arm}_IVAR"),
                 fits.ImageHDU(np.zeros((2, 200), np.int32), name=f"{arm}_MASK")]
    fits.HDUList(hdus).writeto(tmp_path / "coadd-1-2.fits")
    redrock = fits.BinTableHDU.from_columns([
        fits.Column(name="TARGETID", format="K", array=[12]), fits.Column(name="Z", format="D", array=[0.37]),
        fits.Column(name="SPECTYPE", format="6A", array=["GALAXY"]),
        fits.Column(name="SUBTYPE", format="6A", array=[""])], name="REDSHIFTS")
    fits.HDUList([fits.PrimaryHDU(), redrock]).writeto(tmp_path / "redrock-1-2.fits")
    a, b = formats.read("desi", tmp_path / "coadd-1-2.fits")
    assert (np.diff(a.wavelength) > 0).all() and a.wavelength[-1] == pytest.approx(3760 + 0.8 * 199)
    overlap = (a.wavelength >= 3680) & (a.wavelength < 3600 + 0.8 * 200)
    assert np.allclose(a.flux[overlap], 2.0) and np.allclose(a.ivar[overlap], 2.0)  # B and R weighted equally
    assert a.spec_class is None and (b.spec_class, b.z) == ("GALAXY", pytest.approx(0.37))
    with fits.open(tmp_path / "coadd-1-2.fits") as h:
        del h["R_IVAR"]
        h.writeto(tmp_path / "coadd-3-4.fits")
    with pytest.raises(InputError, match="R_IVAR"):
        formats.read("desi", tmp_path / "coadd-3-4.fits")


def lines_table(**columns):
    n = len(next(iter(columns.values())))
    base = {"teff": np.full(n, np.nan), "logg": np.full(n, np.nan), "feh": np.full(n, np.nan)}
    return pd.DataFrame({**base, **columns})


def test_simulated_lines_lie_at_their_observed_wavelengths():
    grid = Grid()
    w = grid.wavelength
    table = lines_table(**{"class": ["QSO", "GALAXY", "GALAXY"], "subclass": ["BROADLINE", "STARFORMING", "PASSIVE"],
                           "z": [2.5, 0.2, 0.3]})
    flux = noiseless(table, w, np.random.default_rng(0))
    civ = (w > 1549.06 * 3.5 * 0.97) & (w < 1549.06 * 3.5 * 1.03)
    assert w[civ][np.argmax(flux[0, civ])] == pytest.approx(1549.06 * 3.5, rel=0.003)
    # The Ly alpha forest: deep, narrow absorption blueward of Ly alpha only.
    forest, red = (w > 1080 * 3.5) & (w < 1180 * 3.5), (w > 1260 * 3.5) & (w < 1350 * 3.5)
    assert np.std(np.diff(flux[0, forest])) > 10 * np.std(np.diff(flux[0, red]))
    ha = (w > 6564.61 * 1.2 - 15) & (w < 6564.61 * 1.2 + 15)
    assert w[ha][np.argmax(flux[1, ha])] == pytest.approx(6564.61 * 1.2, abs=1.5)
    blue, redder = (w > 3850 * 1.3) & (w < 3950 * 1.3), (w > 4000 * 1.3) & (w < 4100 * 1.3)
    assert flux[2, redder].mean() / flux[2, blue].mean() > 1.5  # the 4000 A break, redshifted


def test_simulated_stars_follow_temperature():
    w = Grid().wavelength
    table = lines_table(**{"class": ["STAR"] * 3, "subclass": ["A", "M", "O"], "z": [0.0] * 3,
                           "teff": [9500.0, 3200.0, 40000.0], "logg": [4.2] * 3, "feh": [0.0] * 3})
    flux = noiseless(table, w, np.random.default_rng(0))
    hb = np.argmin(np.abs(w - 4862.68))
    assert flux[0, hb] / flux[0, hb - 60] < 0.6  # deep Balmer line in an A star
    tio = np.argmin(np.abs(w - 7060)), np.argmin(np.abs(w - 7040))
    assert flux[1, tio[0]] < 0.75 * flux[1, tio[1]]  # TiO band head in an M star
    blue, red = w < 4500, w > 8000
    assert flux[2, blue].mean() > flux[2, red].mean() and flux[1, blue].mean() < flux[1, red].mean()


def test_simulated_noise_matches_ivar():
    from scipy.ndimage import median_filter

    config = SimulateConfig(n_spectra=20, seed=3, cosmic_rate=0.0, truncated=0.0, classes={"STAR": ["B"]})
    flux, ivar, mask, table = simulate(config, Grid(step=4e-4))
    assert (ivar > 0).all() and not mask.any()
    pull = (flux - median_filter(flux, size=(1, 9))) * np.sqrt(ivar)
    assert 1.4826 * np.median(np.abs(pull)) == pytest.approx(0.95, abs=0.1)  # noise as the ivar says
    snr = np.median(np.abs(flux) * np.sqrt(ivar), axis=1)
    assert np.allclose(snr, table["snr"], rtol=0.2)


def test_store_drops_low_snr_with_a_reason_and_opens_with_xarray(tmp_path):
    settings = {**COARSE, "snr_min": 5.0}
    qc = build(tmp_path / "s.zarr", tmp_path / "qc.parquet", settings, simulate={"n_spectra": 60, "seed": 2})
    ds = xr.open_zarr(tmp_path / "s.zarr")
    assert ds["flux"].dims == ("object", "pixel") and ds["flux"].dtype == np.float32
    assert len(qc) == 60 and ds.sizes["object"] == int(qc["kept"].sum()) < 60
    assert qc.loc[~qc["kept"], "reason"].str.startswith("median S/N").all()
    assert (ds["snr"].values >= 5.0).all() and json.loads(ds.attrs["provenance"])["config_hash"]


def test_store_rest_frame_and_bad_files_skipped(tmp_path):
    sdss_file(tmp_path / "spec-1.fits", n=3000, z=0.5)
    (tmp_path / "spec-2.fits").write_bytes(b"garbage")
    qc = build(tmp_path / "s.zarr", tmp_path / "qc.parquet", {"rest_frame": True}, fmt="sdss", path=tmp_path,
               on_bad_file="skip")
    assert qc["kept"].tolist() == [True, False] and "unreadable file" in qc["reason"].iloc[1]
    ds = open_store(tmp_path / "s.zarr")
    good = ds["mask"].values[0] == 0
    last = 10 ** (3.58 + 1e-4 * 2999) / 1.5  # the spectrum's reddest pixel in the rest frame
    assert ds.attrs["frame"] == "rest" and 10 ** ds["loglam"].values[good][-1] == pytest.approx(last, rel=2e-4)
    with pytest.raises(InputError, match="spec-2.fits"):
        build(tmp_path / "t.zarr", tmp_path / "qc2.parquet", {}, fmt="sdss", path=tmp_path)


def test_redshift_metrics_use_spectromer_thresholds():
    z = np.array([1.0, 1.0, 0.1, 0.1])
    pred = np.array([1.015, 1.5, 0.1003, 0.2])
    m = redshift_metrics(z, pred, np.array(["QSO", "QSO", "GALAXY", "GALAXY"]))
    assert m["success_rate"] == 0.5 and m["outlier_fraction"] == 0.25  # 0.015/2 < 0.01001; 0.0003/1.1 < 0.00334
    assert m["per_class"]["QSO"]["n"] == 2


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    d = tmp_path_factory.mktemp("spectra")
    build(d / "s.zarr", d / "qc.parquet", COARSE, simulate={"n_spectra": 80, "seed": 5})
    split(d / "s.zarr", d / "split.parquet", 0, 0.25, 0.2)
    return d


@pytest.mark.parametrize("model", ["spectromer-micro", "spectrum-cnn", "forest", "svm"])
def test_every_model_trains_and_is_scored_on_the_same_test_objects(tiny, model, caplog):
    caplog.set_level("INFO", logger="astroflow")
    ext = "joblib" if model in ("forest", "svm") else "pt"
    out = tiny / model
    out.mkdir()
    train(model, 0, tiny / "s.zarr", tiny / "split.parquet", out / f"model.{ext}", out / "train.csv", out / "work",
          {"max_steps": 4, "eval_every": 2, "batch_size": 8, "forest_trees": 10}, threads=1)
    metrics = evaluate(out / f"model.{ext}", tiny / "s.zarr", tiny / "split.parquet", out / "p.parquet",
                       out / "m.json", out / "z.csv", {"dataset": "tiny"})
    predictions = pd.read_parquet(out / "p.parquet")
    test = pd.read_parquet(tiny / "split.parquet").query("split == 'test'")
    assert predictions["object_id"].tolist() == test["object_id"].tolist() == pd.read_csv(out / "z.csv")[
        "object_id"].tolist()
    assert 0 <= metrics["class"]["macro_f1"] <= 1 and len(metrics["class"]["confusion_matrix"]) == 3
    assert {"r2", "nmad", "outlier_fraction", "success_rate"} <= set(metrics["redshift"])
    assert np.isfinite(predictions["z_pred"]).all() and (predictions["teff_pred"] > 0).all()
    if ext == "pt":  # the training loop's progress lines name the model and seed
        assert any(r.getMessage().startswith(f"{model} s0: step 4/4 loss") for r in caplog.records)


def test_a_spectromer_draws_with_its_own_settings(tiny):
    from astroflow.spectra.evaluate import load
    from astroflow.spectra.train import model_inputs

    drawing = {"kind": "rows", "rows": 8, "clip": 1.0}
    train("spectromer-micro", 0, tiny / "s.zarr", tiny / "split.parquet", tiny / "rows.pt", tiny / "rows.csv",
          tiny / "rows", {"max_steps": 2, "eval_every": 2, "batch_size": 8, "augment_copies": 1,
                          "model_overrides": {"spectromer-micro": drawing}}, threads=1)
    card, _ = load(tiny / "rows.pt")
    assert {k: card.settings[k] for k in drawing} == drawing
    ds, rows = open_store(tiny / "s.zarr"), np.arange(3)
    size = card.settings["image_size"]
    images = model_inputs(ds, card, rows)
    np.testing.assert_array_equal(images, inputs.images(ds, rows, "rows", size, card.settings["line_width"], 8, 1.0))
    assert (images != inputs.images(ds, rows, "line", size, card.settings["line_width"])).any()


@pytest.mark.parametrize("bad,key", [({"kind": "waterfall"}, "kind"), ({"rows": 0}, "rows"),
                                     ({"rows": 2.5}, "rows"), ({"clip": 50}, "clip")])
def test_bad_drawing_settings_name_their_key(bad, key):
    from astroflow.errors import ConfigError
    from astroflow.spectra.models import network_settings

    with pytest.raises(ConfigError, match=f"spectra.model_overrides.spectromer-micro.{key}"):
        network_settings("spectromer-micro", bad, 3)


def test_noisy_copies_differ_by_each_pixels_own_noise(tiny):
    ds, rows = open_store(tiny / "s.zarr"), np.arange(20)
    flux, ivar, mask = inputs._arrays(ds, rows)
    noisy, _, _ = inputs._arrays(ds, rows, np.random.default_rng(0))
    good = inputs.good_pixels(ivar, mask)
    pull = (noisy - flux)[good] * np.sqrt(ivar[good])
    assert abs(pull.std() - 1) < 0.02 and abs(pull.mean()) < 0.02
    np.testing.assert_array_equal(noisy[~good], flux[~good])


def test_spectra_predict_cli_names_unreadable_files(tiny, tmp_path, capsys):
    model = tiny / "spectrum-cnn" / "model.pt"
    if not model.exists():
        pytest.skip("needs the spectrum-cnn run of the test above")
    sdss_file(tmp_path / "spec-1.fits", n=4000)
    (tmp_path / "spec-2.fits").write_bytes(b"not fits")
    assert main(["spectra-predict", str(model), "sdss", str(tmp_path), "--out", str(tmp_path / "p.csv")]) == 0
    table = pd.read_csv(tmp_path / "p.csv", keep_default_na=False)
    assert table["class_pred"].iloc[0] in ("STAR", "GALAXY", "QSO") and "unreadable" in table["note"].iloc[1]
    assert "1 spectra classified, 1 not" in capsys.readouterr().out


def test_a_store_on_another_grid_is_refused(tiny, tmp_path):
    build(tmp_path / "other.zarr", tmp_path / "qc.parquet", {"grid_step": 0.0005}, simulate={"n_spectra": 5})
    model = tiny / "forest" / "model.joblib"
    if not model.exists():
        pytest.skip("needs the forest run above")
    with pytest.raises(InputError, match="grid"):
        evaluate(model, tmp_path / "other.zarr", None, tmp_path / "p.parquet", tmp_path / "m.json",
                 tmp_path / "z.csv", {})


@pytest.mark.realdata
@pytest.mark.parametrize("fmt,folder,count,kind", [("sdss", "sdss_boss_qso_picca", 88, "QSO"),
                                                   ("lamost", "lamost_dr1_stars", 179, "STAR"),
                                                   ("desi", "desi_fastspecfit", 2, "GALAXY")])
def test_real_spectra_read(realdata_dir, fmt, folder, count, kind):
    root = realdata_dir / "spectra" / folder
    if not root.is_dir():
        pytest.skip(f"{root} is absent")
    spectra = [s for p in formats.discover(fmt, root) for s in formats.read(fmt, p)]
    assert len(spectra) == count
    assert pd.Series([s.spec_class for s in spectra]).value_counts().index[0] == kind
    assert all(np.isfinite(s.wavelength).all() and (np.diff(s.wavelength) > 0).all() for s in spectra)
