"""PLAsTiCC light curves + metadata: pairing of files, class names, flux units, and a bad-input corpus."""
import astropy.units as u
import pytest

from astroflow.errors import ConfigError, InputError
from astroflow.sources.formats import plasticc
from test_formats_long import check_corpus_case

LC = ("object_id,mjd,passband,flux,flux_err,detected\n"
      "615,59750.4229,2,-544.810303,3.622952,1\n615,59750.4306,1,-816.434326,5.553370,1\n"
      "713,59825.2600,5,2.501,1.9,0\n")
META = ("object_id,ra,decl,gal_l,gal_b,ddf,hostgal_specz,hostgal_photoz,hostgal_photoz_err,distmod,mwebv,target\n"
        "615,349.046051,-61.943836,320.79653,-51.753706,1,0.0,0.0,0.0,,0.017,92\n"
        "713,53.085938,-27.784405,223.525509,-54.460748,1,1.8181,1.6267,0.2552,45.4063,0.007,88\n"
        "999,1.0,2.0,3.0,4.0,0,0.1,0.1,0.01,38.0,0.01,90\n")


def write(path, text):
    path.write_text(text)
    return path


def test_reads_light_curves_with_metadata(tmp_path):
    write(tmp_path / "training_set.csv", LC)
    write(tmp_path / "training_set_metadata.csv", META)
    units = plasticc.discover(tmp_path)
    assert units == [(tmp_path / "training_set.csv", tmp_path / "training_set_metadata.csv")]
    cat = plasticc.read(units[0])
    assert cat.objects["object_id"].tolist() == ["615", "713"]  # only the objects of this light-curve file
    assert cat.objects["label"].tolist() == ["RRL", "AGN"]
    assert cat.objects["dec"].tolist() == [-61.943836, -27.784405]
    assert cat.objects["redshift"].tolist() == [0.0, 1.6267]
    assert cat.obs["band"].tolist() == ["r", "g", "y"]
    assert cat.obs["value"].tolist() == [-544.810303, -816.434326, 2.501]  # negative fluxes are real measurements
    assert cat.obs["detected"].tolist() == [True, True, False]
    assert (cat.quantity, cat.bands) == ("flux", ["u", "g", "r", "i", "z", "y"])
    # FLUXCAL: a flux of 1 is AB magnitude 27.5
    assert (1 * u.Unit(cat.unit)).to(u.ABmag).value == pytest.approx(27.5, abs=1e-6)
    assert len(cat.sources) == 2


def test_pairs_each_light_curve_file_with_its_metadata(tmp_path):
    for name in ("plasticc_test_lightcurves_02.csv", "plasticc_test_lightcurves_01.csv",
                 "plasticc_train_lightcurves.csv"):
        write(tmp_path / name, LC.replace("detected", "detected_bool"))
    write(tmp_path / "plasticc_train_metadata.csv", META)
    write(tmp_path / "plasticc_test_metadata.csv", META.replace("target", "true_target"))
    units = plasticc.discover(tmp_path)
    assert [(lc.name, meta.name) for lc, meta in units] == [
        ("plasticc_test_lightcurves_01.csv", "plasticc_test_metadata.csv"),
        ("plasticc_test_lightcurves_02.csv", "plasticc_test_metadata.csv"),
        ("plasticc_train_lightcurves.csv", "plasticc_train_metadata.csv")]
    cat = plasticc.read(units[0])
    assert cat.objects["label"].tolist() == ["RRL", "AGN"] and "detected" in cat.obs
    assert plasticc.discover(tmp_path, metadata=tmp_path / "x.csv")[0][1] == tmp_path / "x.csv"
    with pytest.raises(ConfigError, match="options.meta"):
        plasticc.discover(tmp_path, meta="x.csv")


def test_without_metadata_objects_stay_unlabelled(tmp_path):
    units = plasticc.discover(write(tmp_path / "lc.csv", LC))
    assert units == [(tmp_path / "lc.csv", None)]
    cat = plasticc.read(units[0])
    assert cat.objects["label"].isna().all() and cat.n_obs == 3


def test_metadata_problems(tmp_path, caplog):
    lc = write(tmp_path / "lc.csv", LC)
    meta = write(tmp_path / "m.csv", META.replace(",88\n", ",7\n"))
    with pytest.raises(InputError, match="object '713': unknown target code 7"):
        plasticc.read((lc, meta))
    meta = write(tmp_path / "m.csv", META + META.splitlines()[1] + "\n")
    with pytest.raises(InputError, match="'615' appears more than once"):
        plasticc.read((lc, meta))
    meta = write(tmp_path / "m.csv", "\n".join(META.splitlines()[:2]) + "\n")
    cat = plasticc.read((lc, meta))
    assert cat.objects["label"].iloc[0] == "RRL" and cat.objects["label"].isna().tolist() == [False, True]
    assert "1 of 2 objects have no metadata" in caplog.text


CORPUS = [
    ("truncated", LC + "713,59826.0,5,2.5", "truncated row"),
    ("wrong_columns", LC.replace("passband", "band"), "missing column"),
    ("text_in_number", LC.replace("2.501", "bright"), "not a number: 'bright'"),
    ("empty", "", "empty file"),
    ("empty_id", LC + ",59826.0,5,2.5,1.0,0\n", "data row 4: empty object id"),
    ("header_only", LC.splitlines()[0] + "\n", None),
    ("one_point", "\n".join(LC.splitlines()[:2]) + "\n", None),
    ("nan_inf", LC + "713,nan,5,inf,nan,0\n", None),
    ("unsorted_duplicates", LC + "615,59750.4229,2,-544.810303,3.622952,1\n615,59000.0,2,1.0,1.0,0\n", None),
    ("negative_error", LC + "713,59826.0,5,2.5,-1.0,0\n", None),
    ("unknown_band", LC + "713,59826.0,8,2.5,1.0,0\n", None),
]


@pytest.mark.parametrize("name, text, problem", CORPUS, ids=[c[0] for c in CORPUS])
def test_bad_input_corpus(tmp_path, name, text, problem):
    cat = check_corpus_case(plasticc.read, write(tmp_path / f"{name}.csv", text), problem, "mjd", "flux", "flux_err")
    if name == "unknown_band":
        assert cat.obs["band"].iloc[-1] == "8" and "8" not in cat.bands
