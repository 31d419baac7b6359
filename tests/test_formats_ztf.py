"""ZTF alert readers (ANTARES per-object CSVs, ALeRCE detections): fixtures, a bad-input corpus, real samples."""
import time

import numpy as np
import pytest

from astroflow.catalogue import concat
from astroflow.errors import ConfigError, InputError
from astroflow.sources.formats import alerce, antares
from astroflow.sources.labels import apply_labels, apply_split
from test_formats_long import check_corpus_case

ANTARES = (",ant_mjd,ant_passband,ant_mag,ant_magerr\n"
           "17,58526.40,g,18.45,0.15\n19,58534.23,g,16.42,0.06\n21,58534.31,R,16.51,0.07\n")
ALERCE = ("oid,fid,mjd,magpsf,sigmapsf,magpsf_corr,sigmapsf_corr,isdiffpos,ra,dec\n"
          "ZTF1,1,58586.4,20.9,0.33,19.6,0.09,1.0,10.0,20.0\n"
          "ZTF1,2,58635.4,20.4,0.17,,,t,10.2,20.2\n"
          "ZTF2,2,58700.1,19.0,0.10,18.9,0.08,-1.0,30.0,-5.0\n")
BTS_CLASSES = {"Ia": ["SN Ia*"], "II": ["SN II*"], "Ibc": ["SN Ib*", "SN Ic*"]}


def write(path, text):
    path.write_text(text)
    return path


def test_antares_reads_one_object_per_file(tmp_path):
    write(tmp_path / "ZTF18b.csv", ANTARES)
    write(tmp_path / "ZTF18a.csv", ANTARES.replace("R,", "g,"))
    units = antares.discover(tmp_path)
    assert [u.name for u in units] == ["ZTF18a.csv", "ZTF18b.csv"]
    cat = antares.read(units[1])
    assert cat.objects["object_id"].tolist() == ["ZTF18b"]
    assert cat.obs["band"].tolist() == ["g", "g", "r"]
    assert cat.obs["time"].tolist() == [58526.40, 58534.23, 58534.31]
    assert cat.obs["error"].tolist() == [0.15, 0.06, 0.07]
    assert (cat.survey, cat.quantity, cat.bands) == ("ZTF", "mag", ["g", "r", "i"])
    with pytest.raises(ConfigError, match="options.band"):
        antares.read(units[0], band="g")


def test_alerce_reads_detections(tmp_path):
    write(tmp_path / "sne_detections.csv", ALERCE)
    write(tmp_path / "sne_non_detections.csv", "oid,fid,jd,diffmaglim\nZTF1,1,2458000.5,20.1\n")
    units = alerce.discover(tmp_path)
    assert [u.name for u in units] == ["sne_detections.csv"]
    cat = alerce.read(units[0])
    assert cat.objects["object_id"].tolist() == ["ZTF1", "ZTF2"]
    assert cat.obs["band"].tolist() == ["g", "r", "r"]
    assert cat.obs["value"].tolist() == [20.9, 20.4, 19.0]
    assert cat.obs["isdiffpos"].tolist() == [True, True, False]
    np.testing.assert_allclose(cat.objects["ra"], [10.1, 30.0])
    corr = alerce.read(units[0], magnitude="magpsf_corr")
    np.testing.assert_array_equal(corr.obs["value"], [19.6, np.nan, 18.9])  # NaN left for the cleaner to record
    np.testing.assert_array_equal(corr.obs["error"], [0.09, np.nan, 0.08])
    with pytest.raises(ConfigError, match="options.magnitude"):
        alerce.read(units[0], magnitude="magap")


def test_alerce_accepts_objectId_column(tmp_path):
    cat = alerce.read(write(tmp_path / "d.csv", ALERCE.replace("oid,", "objectId,")))
    assert cat.objects["object_id"].tolist() == ["ZTF1", "ZTF2"]


# Malformed input per reader: (name, file text, message expected in the InputError, or None when the values pass
# on unchanged for the cleaner to record).
def corpus(good: str, number: str, extra_row: str, bad_band_row: str):
    head = good.splitlines()[0] + "\n"
    short = extra_row.rsplit(",", 1)[0]
    return [
        ("truncated", good + short, "truncated row"),
        ("wrong_columns", head.replace("mjd", "jd") + good.split("\n", 1)[1], "missing column"),
        ("text_in_number", good.replace(number, "bright", 1), "not a number: 'bright'"),
        ("empty", "", "empty file"),
        ("header_only", head, None),
        ("one_point", head + extra_row + "\n", None),
        ("nan_inf", good + extra_row.replace(number, "nan") + "\n" + extra_row.replace(number, "inf") + "\n", None),
        ("unsorted_duplicates", good + extra_row + "\n" + extra_row + "\n", None),
        ("negative_error", good + extra_row.rsplit(",", 1)[0] + ",-0.1\n", None),
        ("unknown_band", good + bad_band_row + "\n", None),
    ]


ANTARES_CORPUS = corpus(ANTARES, "16.42", "30,58000.0,g,16.42,0.05", "31,58001.0,Z,17.0,0.05")
ALERCE_CORPUS = corpus("oid,fid,mjd,magpsf,sigmapsf\nZTF1,1,58586.4,20.9,0.33\nZTF1,2,58635.4,20.4,0.17\n", "20.4",
                       "ZTF3,1,58000.0,20.4,0.1", "ZTF3,9,58001.0,20.0,0.1")


@pytest.mark.parametrize("name, text, problem", ANTARES_CORPUS, ids=[c[0] for c in ANTARES_CORPUS])
def test_antares_bad_input(tmp_path, name, text, problem):
    cat = check_corpus_case(antares.read, write(tmp_path / f"{name}.csv", text), problem, "ant_mjd", "ant_mag",
                            "ant_magerr")
    if name == "unknown_band":
        assert "Z" in set(cat.obs["band"]) and "Z" not in cat.bands
    if name == "header_only":
        assert cat.objects["object_id"].tolist() == ["header_only"]  # listed, so the cleaner records it as empty


@pytest.mark.parametrize("name, text, problem", ALERCE_CORPUS, ids=[c[0] for c in ALERCE_CORPUS])
def test_alerce_bad_input(tmp_path, name, text, problem):
    cat = check_corpus_case(alerce.read, write(tmp_path / f"{name}.csv", text), problem, "mjd", "magpsf", "sigmapsf")
    if name == "unknown_band":
        assert "9" in set(cat.obs["band"]) and "9" not in cat.bands


def test_bad_input_names_line_and_field(tmp_path):
    with pytest.raises(InputError) as err:
        antares.read(write(tmp_path / "x.csv", ANTARES.replace("16.42", "bright")))
    assert (err.value.line, err.value.field) == (3, "ant_mag")
    with pytest.raises(InputError, match="data row 2: empty object id"):
        alerce.read(write(tmp_path / "d.csv", ALERCE.replace("ZTF1,2,", ",2,")))


@pytest.mark.realdata
def test_ztf_bts_all_objects_with_types(realdata_dir):
    root = realdata_dir / "ztf_bts_antares"
    start = time.perf_counter()
    units = antares.discover(root / "light_curves")
    cat = concat([antares.read(u) for u in units])
    seconds = time.perf_counter() - start
    cat = apply_labels(cat, root / "ZTF_BTS_02_02__02_04_2021.csv", "ZTFID", "type", BTS_CLASSES, "Other")
    cat = apply_split(cat, root / "test_ids.txt")
    print(f"ZTF BTS: {len(units)} files, {cat.n_obs} observations read in {seconds:.2f} s")
    assert len(units) == cat.n_objects == 2710
    assert cat.objects["label"].value_counts().to_dict() == {"Ia": 1998, "II": 479, "Ibc": 160, "Other": 73}
    assert (cat.objects["split"] == "test").sum() == 542
    assert set(cat.obs["band"]) == {"g", "r"}
    assert np.isfinite(cat.obs["time"]).all() and (cat.obs["time"] > 58000).all()
    assert len(cat.sources) == 2710


@pytest.mark.realdata
def test_alerce_30_supernovae(realdata_dir):
    root = realdata_dir / "alerce_ztf_sne_30"
    units = alerce.discover(root)
    assert [u.name for u in units] == ["30_sne_detections_corr.csv"]
    cat = apply_labels(alerce.read(units[0]), root / "30_sne_labels.csv", "objectId", "classALeRCE")
    assert cat.n_objects == 30 and cat.n_obs == 784
    assert cat.objects["label"].value_counts().to_dict() == {"SNIa": 19, "SNIbc": 8, "SLSN": 2, "SNII": 1}
    assert cat.obs["band"].value_counts().to_dict() == {"r": 432, "g": 352}
    assert np.isfinite(cat.obs["value"]).all()
