"""The generic long-table reader and the shared parsing helpers: round trips, options, and a bad-input corpus."""
import gzip

import numpy as np
import pandas as pd
import pytest
from astropy.table import Table
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from astroflow.errors import ConfigError, InputError
from astroflow.sources import formats
from astroflow.sources.formats import common, long

GOOD = "object_id,time,band,value,error\na,50000.5,g,18.1,0.05\na,50001.5,r,18.3,0.06\nb,50002.25,g,17.0,0.02\n"


def write(path, text):
    path.write_text(text)
    return path


def test_reads_csv_in_file_order(tmp_path):
    cat = long.read(write(tmp_path / "t.csv", GOOD))
    assert list(cat.obs["object_id"]) == ["a", "a", "b"]
    assert cat.obs["time"].tolist() == [50000.5, 50001.5, 50002.25]
    assert cat.obs["band"].tolist() == ["g", "r", "g"]
    assert cat.obs["value"].tolist() == [18.1, 18.3, 17.0]
    assert list(cat.objects["object_id"]) == ["a", "b"]
    assert cat.objects["label"].isna().all()
    assert (cat.quantity, cat.unit) == ("mag", "mag")
    assert cat.sources == {str(tmp_path / "t.csv"): common.sources(tmp_path / "t.csv")[str(tmp_path / "t.csv")]}
    assert len(next(iter(cat.sources.values()))) == 64


def test_registry_finds_the_format(tmp_path):
    path = write(tmp_path / "t.csv", GOOD)
    assert "long" in formats.names()
    assert formats.discover("long", path) == [path]
    assert formats.read("long", path).n_obs == 3
    assert formats.read("long", path, quantity="flux", unit="nJy").unit == "nJy"  # 'unit' is an option, not the file


def test_column_mapping_label_and_time_format(tmp_path):
    text = "id,hjd,filter,flux,flux_err,class\n7,2450001.0,V,10.0,1.0,RRab\n7,2450002.0,V,11.0,1.0,RRab\n"
    cat = long.read(write(tmp_path / "t.csv", text), columns={"object_id": "id", "time": "hjd", "band": "filter",
                    "value": "flux", "error": "flux_err", "label": "class"}, quantity="flux", unit="nJy",
                    time_format="hjd")
    assert cat.obs["time"].tolist() == [50000.5, 50001.5]
    assert cat.objects.to_dict("list") == {"object_id": ["7"], "label": ["RRab"]}
    assert cat.quantity_of("value").unit == "nJy"


def test_conflicting_labels_of_one_object(tmp_path):
    text = "object_id,time,band,value,error,label\na,1,g,1,0.1,X\na,2,g,1,0.1,Y\n"
    with pytest.raises(InputError, match="more than one label"):
        long.read(write(tmp_path / "t.csv", text), columns={"label": "label"})


def test_folder_of_single_band_files_takes_ids_from_names(tmp_path):
    for name in ("star2", "star1"):
        write(tmp_path / f"{name}.csv", "mjd,mag,err\n1.0,15.0,0.1\n2.0,15.2,0.1\n")
    (tmp_path / "notes.txt").write_text("not data")
    units = long.discover(tmp_path, columns={"time": "mjd", "value": "mag", "error": "err"}, band="V")
    assert [u.name for u in units] == ["star1.csv", "star2.csv"]
    cat = long.read(units[0], columns={"time": "mjd", "value": "mag", "error": "err"}, band="V")
    assert set(cat.obs["object_id"]) == {"star1"} and set(cat.obs["band"]) == {"V"}
    assert long.discover(tmp_path, pattern="star2*") == [tmp_path / "star2.csv"]
    write(tmp_path / "star3.csv", "object_id,mjd,mag,err\nX,1.0,15.0,0.1\n")
    cat = long.read(tmp_path / "star3.csv", columns={"object_id": None, "time": "mjd", "value": "mag", "error": "err"},
                    band="V")
    assert cat.objects["object_id"].tolist() == ["star3"]  # mapped to nothing: the file name is the id


def test_header_only_ecsv(tmp_path):
    Table({"object_id": [], "time": [], "band": [], "value": [], "error": []}).write(tmp_path / "t.ecsv")
    cat = long.read(tmp_path / "t.ecsv")
    assert cat.n_obs == 0 and cat.n_objects == 0


def test_parquet_and_gzip_csv(tmp_path):
    df = pd.read_csv(write(tmp_path / "t.csv", GOOD))
    df.to_parquet(tmp_path / "t.parquet")
    (tmp_path / "t.csv.gz").write_bytes(gzip.compress(GOOD.encode()))
    for name in ("t.parquet", "t.csv.gz"):
        cat = long.read(tmp_path / name)
        assert cat.obs["value"].tolist() == [18.1, 18.3, 17.0]


def test_ecsv_units_are_converted(tmp_path):
    t = Table({"object_id": ["a", "a"], "time": [1.0, 2.0], "band": ["g", "g"], "value": [18.0, 18.5],
               "error": [50.0, 60.0]})
    t["value"].unit, t["error"].unit = "mag", "mmag"
    t.write(tmp_path / "t.ecsv")
    cat = long.read(tmp_path / "t.ecsv")
    np.testing.assert_allclose(cat.obs["error"], [0.05, 0.06])
    with pytest.raises(InputError, match="cannot be converted"):
        long.read(tmp_path / "t.ecsv", quantity="flux", unit="Jy")
    (tmp_path / "bad.ecsv").write_text("# %ECSV 1.0\n# ---\n# datatype: [\n")
    with pytest.raises(InputError, match="bad.ecsv"):
        long.read(tmp_path / "bad.ecsv")


@pytest.mark.parametrize("options, key", [
    ({"colour": "x"}, "options.colour"),
    ({"columns": {"flux": "f"}}, "options.columns.flux"),
    ({"quantity": "counts"}, "options.quantity"),
    ({"quantity": "flux"}, "options.unit"),
    ({"unit": "furlongs"}, "options.unit"),
    ({"time_format": "gregorian"}, "time_format"),
    ({"band": "g", "columns": {"band": "band"}}, "options.band"),
    ({"columns": {"band": None}}, "options.band"),
    ({"columns": {"error": None}}, "options.columns.error"),
])
def test_bad_options_name_the_key(tmp_path, options, key):
    with pytest.raises(ConfigError) as err:
        long.read(write(tmp_path / "t.csv", GOOD), **options)
    assert err.value.key == key


# Malformed input: (name, file text, message expected in the InputError, or None when values pass on to the cleaner).
CORPUS = [
    ("truncated", GOOD + "b,50003.0,g,17.1", "truncated row"),
    ("too_many_fields", GOOD + "b,50003.0,g,17.1,0.1,9\n", "too many fields"),
    ("wrong_columns", "id,mjd,filter,mag,err\na,1,g,1,0.1\n", "missing column"),
    ("text_in_number", GOOD.replace("18.3", "bright"), "not a number: 'bright'"),
    ("empty", "", "empty file"),
    ("empty_id", GOOD + ",50003.0,g,17.1,0.1\n", "empty object id"),
    ("header_only", GOOD.splitlines()[0] + "\n", None),
    ("one_point", "object_id,time,band,value,error\na,1.0,g,18.0,0.1\n", None),
    ("nan_inf", GOOD + "b,nan,g,inf,-inf\nb,50004,g,NaN,\n", None),
    ("unsorted_duplicates", GOOD + "a,50000.5,g,18.2,0.05\na,49000.0,g,18.0,0.05\n", None),
    ("negative_error", GOOD + "b,50003.0,g,17.1,-0.1\n", None),
    ("unknown_band", GOOD + "b,50003.0,X,17.1,0.1\n", None),
]


def check_corpus_case(read, path, problem, time="time", value="value", error="error", **options):
    """Either an InputError naming the file and the problem, or every row passed on unchanged (the cleaner
    records what it removes); returns the catalogue in the second case."""
    if problem is not None:
        with pytest.raises(InputError) as err:
            read(path, **options)
        assert str(path) in str(err.value) and problem in str(err.value)
        return None
    cat = read(path, **options)
    expected = pd.read_csv(path)
    assert cat.n_obs == len(expected)
    for column, source in (("time", time), ("value", value), ("error", error)):
        np.testing.assert_array_equal(cat.obs[column], expected[source])
    return cat


@pytest.mark.parametrize("name, text, problem", CORPUS, ids=[c[0] for c in CORPUS])
def test_bad_input_corpus(tmp_path, name, text, problem):
    cat = check_corpus_case(long.read, write(tmp_path / f"{name}.csv", text), problem, bands=["g", "r"])
    if cat is not None:
        assert cat.bands == ["g", "r"]


def test_bad_input_lines_and_fields(tmp_path):
    with pytest.raises(InputError) as err:
        long.read(write(tmp_path / "t.csv", GOOD.replace("18.3", "bright")))
    assert (err.value.line, err.value.field) == (3, "value")
    with pytest.raises(InputError) as err:
        long.read(write(tmp_path / "t.csv", GOOD + "b,50003.0,g,17.1"))
    assert err.value.line == 5


def test_bad_parquet(tmp_path):
    (tmp_path / "t.parquet").write_bytes(b"PAR1 this is not parquet")
    with pytest.raises(InputError, match="Parquet"):
        long.read(tmp_path / "t.parquet")
    pd.DataFrame({"object_id": ["a"], "time": ["yesterday"], "band": ["g"], "value": [1.0], "error": [0.1]}) \
        .to_parquet(tmp_path / "s.parquet")
    with pytest.raises(InputError, match="row 1: not a number: 'yesterday'"):
        long.read(tmp_path / "s.parquet")


def test_unknown_extension_and_missing_file(tmp_path):
    with pytest.raises(InputError, match="file_format"):
        long.read(write(tmp_path / "t.dat", GOOD))
    assert long.read(tmp_path / "t.dat", file_format="csv").n_obs == 3
    with pytest.raises(InputError, match="no such file"):
        long.discover(tmp_path / "missing")


ids = st.text(st.characters(codec="utf-8", exclude_categories=("Cc", "Cs", "Zs", "Zl", "Zp")), min_size=1,
              max_size=8)
finite = st.floats(allow_nan=False, allow_infinity=False, width=64)
rows = st.lists(st.tuples(ids, finite, st.sampled_from(["g", "r", "i"]), st.floats(width=64), st.floats(width=64)),
                min_size=1, max_size=30)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=rows, kind=st.sampled_from(["csv", "parquet", "ecsv"]))
def test_any_valid_table_round_trips_exactly(tmp_path, rows, kind):
    df = pd.DataFrame(rows, columns=["object_id", "time", "band", "value", "error"])
    # ECSV reads a line starting with '#' as a comment, and astropy writes such a value unquoted
    assume(kind != "ecsv" or not df["object_id"].str.startswith("#").any())
    path = tmp_path / f"t.{kind}"
    if kind == "csv":
        df.to_csv(path, index=False)
    elif kind == "ecsv":
        Table.from_pandas(df).write(path, overwrite=True)
    else:
        df.to_parquet(path)
    cat = long.read(path)
    assert cat.obs["object_id"].tolist() == df["object_id"].tolist()
    assert cat.obs["band"].tolist() == df["band"].tolist()
    for column in ("time", "value", "error"):
        np.testing.assert_array_equal(cat.obs[column].to_numpy(), df[column].to_numpy())
    assert cat.objects["object_id"].tolist() == list(dict.fromkeys(df["object_id"]))


@pytest.mark.parametrize("fmt, raw, mjd", [
    ("mjd", 59000.25, 59000.25), ("jd", 2459000.75, 59000.25), ("hjd", 2459000.75, 59000.25),
    ("HJD-2450000", 9000.75, 59000.25), ("mjd-50000", 9000.25, 59000.25), ("bjd - 2400000", 59000.75, 59000.25),
])
def test_to_mjd(fmt, raw, mjd):
    assert common.to_mjd(np.array([raw]), fmt)[0] == mjd


def test_object_id_from_names():
    assert common.object_id_from("x/ZTF18aaa.csv") == "ZTF18aaa"
    assert common.object_id_from("x/lc_42.csv.gz") == "lc_42"


def test_whitespace_tables(tmp_path):
    path = write(tmp_path / "w.dat", "# a comment\n1.0  15.0 0.1\n\n2.0\t15.5   0.2  # trailing\n")
    table = common.read_table(path, ["t", "m", "e"], ["t", "m", "e"], delimiter=None, names=["t", "m", "e"],
                              comment="#")
    assert table.column("m").to_pylist() == [15.0, 15.5]
    with pytest.raises(InputError) as err:
        common.read_table(write(tmp_path / "w.dat", "1.0 15.0 0.1\n2.0 15.5\n"), ["t"], ["t"], delimiter=None,
                          names=["t", "m", "e"])
    assert err.value.line == 2 and "truncated" in str(err.value)
    with pytest.raises(InputError) as err:
        common.read_table(write(tmp_path / "w.dat", "t m e\n1.0 15.0 0.1\n2.0 x 0.1\n"), ["m"], ["m"],
                          delimiter=None)
    assert (err.value.line, err.value.field) == (3, "m")
    with pytest.raises(InputError, match="empty file"):
        common.read_table(write(tmp_path / "w.dat", "# only a comment\n"), ["t"], delimiter=None, comment="#")


def test_band_names_keep_unknown_codes():
    assert common.band_names(np.array([1.0, 2.0, 7.0, np.nan]), {1: "g", 2: "r"}).tolist() == ["g", "r", "7", "nan"]
    assert common.band_names(np.array(["R", "g", "q"], dtype=object), {"R": "r", "g": "g"}).tolist() == ["r", "g", "q"]
