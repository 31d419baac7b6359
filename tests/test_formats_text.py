"""Readers of per-band text light curves: MACHO-style files, OGLE-III ``.dat`` and the Sesar 2010 Stripe 82 archive."""
import gzip
import io
import tarfile

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from astroflow.errors import ConfigError, InputError
from astroflow.sources import formats
from astroflow.sources.formats import macho, ogle3, sesar_s82

finite = st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False)
any_float = st.floats(allow_nan=True, allow_infinity=True, width=64)


def rows_text(rows) -> str:
    return "".join(" ".join(repr(float(v)) for v in row) + "\n" for row in rows)


# --- MACHO ---------------------------------------------------------------------------------------------------

def test_macho_discovers_both_layouts_and_groups_bands(tmp_path):
    (tmp_path / "1.3319.10.R.dat").write_text("50000.5 18.1 0.02\n")
    (tmp_path / "1.3319.10.B.dat").write_text("# MJD mag err\n50000.5 19.1 0.03\n50001.5 19.2 0.03\n")
    (tmp_path / "B").mkdir()
    (tmp_path / "B" / "2.5.7.dat").write_text("50002.5 17.0 0.01\n")
    (tmp_path / "README.txt").write_text("not a light curve")
    units = formats.discover("macho", tmp_path)
    assert units == [(tmp_path / "1.3319.10.B.dat", tmp_path / "1.3319.10.R.dat"), (tmp_path / "B" / "2.5.7.dat",)]
    cat = formats.read("macho", units[0])
    assert cat.objects["object_id"].tolist() == ["1.3319.10"]
    assert cat.obs["band"].tolist() == ["B", "B", "R"]
    assert cat.obs["time"].tolist() == [50000.5, 50001.5, 50000.5]
    assert (cat.quantity, cat.unit, cat.bands, cat.survey) == ("mag", "mag", ["B", "R"], "MACHO")
    assert set(cat.sources) == {str(p) for p in units[0]} and all(len(h) == 64 for h in cat.sources.values())
    assert cat.quantity_of("value").unit == "mag"
    assert formats.read("macho", units[1]).obs["object_id"].tolist() == ["2.5.7"]


def test_macho_options(tmp_path):
    (tmp_path / "7.U.txt").write_text("1 2 3\n")
    assert formats.discover("macho", tmp_path, bands=["U"], suffix=".txt") == [(tmp_path / "7.U.txt",)]
    with pytest.raises(ConfigError, match="colour"):
        formats.discover("macho", tmp_path, colour="B")
    with pytest.raises(ConfigError, match="colour"):
        formats.read("macho", tmp_path / "7.U.txt", colour="B")


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(any_float, any_float, any_float), min_size=1, max_size=30))
def test_macho_round_trips_exactly(tmp_path_factory, rows):
    path = tmp_path_factory.mktemp("macho") / "x.R.dat"
    path.write_text(rows_text(rows))
    cat = macho.read(path)
    np.testing.assert_array_equal(cat.obs[["time", "value", "error"]].to_numpy(), np.array(rows, dtype=float))
    assert (cat.obs["band"] == "R").all() and (cat.obs["object_id"] == "x").all()


PASS_THROUGH = {  # bad values the cleaner records: the reader keeps every row as written
    "nan_inf": "nan 19.0 0.1\n50001.0 inf 0.1\n50002.0 19.0 -inf\n",
    "one_point": "50000.0 19.0 0.1\n",
    "unsorted": "50002.0 19.0 0.1\n50000.0 19.1 0.1\n50001.0 19.2 0.1\n",
    "duplicate_times": "50000.0 19.0 0.1\n50000.0 19.1 0.1\n",
    "negative_errors": "50000.0 19.0 -0.1\n50001.0 19.1 0.0\n",
}


@pytest.mark.parametrize("case", sorted(PASS_THROUGH))
def test_macho_passes_bad_values_to_the_cleaner(tmp_path, case):
    path = tmp_path / "x.B.dat"
    path.write_text(PASS_THROUGH[case])
    expected = np.array([line.split() for line in PASS_THROUGH[case].splitlines()], dtype=float)
    np.testing.assert_array_equal(macho.read(path).obs[["time", "value", "error"]].to_numpy(), expected)


BAD = {  # content -> (line, words the message must contain)
    "truncated": ("50000.0 19.0 0.1\n50001.0 19.1", (2, "truncated row")),
    "wrong_columns": ("50000.0 19.0 0.1 7\n", (1, "too many fields")),
    "text_in_numbers": ("50000.0 19.0 0.1\n50001.0 bright 0.1\n", (2, "'mag'", "not a number")),
    "empty": ("", (None, "no observations")),
    "header_only": ("# MJD mag err\n\n", (None, "no observations")),
    "binary": (b"\x1f\x8b\x08\x00\xff\xfe\x00", (None, "cannot read")),
}


@pytest.mark.parametrize("reader, name", [(macho, "x.B.dat"), (ogle3, "OGLE-LMC-CEP-0001.I.dat")])
@pytest.mark.parametrize("case", sorted(BAD))
def test_band_file_bad_input_names_file_and_problem(tmp_path, case, reader, name):
    content, (line, *words) = BAD[case]
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    with pytest.raises(InputError) as err:
        reader.read(path)
    assert err.value.path == str(path) and err.value.line == line
    assert all(w in str(err.value) for w in words)


def test_macho_unknown_band_is_refused_with_the_layouts(tmp_path):
    (tmp_path / "x.U.dat").write_text("1 2 3\n")
    for call in (lambda: macho.discover(tmp_path), lambda: macho.read(tmp_path / "x.U.dat")):
        with pytest.raises(InputError, match=r"x\.U\.dat: cannot tell the band.*<band>/<id>\.dat"):
            call()


def test_macho_missing_root(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        macho.discover(tmp_path / "absent")


# --- OGLE-III ------------------------------------------------------------------------------------------------

def test_ogle3_converts_both_time_conventions_and_labels_by_class(tmp_path):
    (tmp_path / "I").mkdir()
    (tmp_path / "I" / "OGLE-LMC-CEP-0001.dat").write_text("2166.82024 15.720 0.006\n")
    (tmp_path / "OGLE-LMC-CEP-0001.V.dat").write_text("2452167.82024 16.3 0.01\n")
    (tmp_path / "OGLE-BLG-RRLYR-00012.I.dat").write_text("2455000.0 16.0 0.01\n")
    (tmp_path / "star7.I.dat").write_text("2455000.0 16.0 0.01\n")
    units = ogle3.discover(tmp_path)
    assert [len(u) for u in units] == [1, 2, 1]
    cep = ogle3.read(units[1])
    assert cep.obs["band"].tolist() == ["I", "V"]
    np.testing.assert_array_equal(cep.obs["time"], [2166.82024 + 49999.5, 2452167.82024 - 2400000.5])
    assert cep.objects["label"].tolist() == ["CEP"] and cep.survey == "OGLE-III"
    assert ogle3.read(units[0]).objects["label"].tolist() == ["RRLYR"]
    assert ogle3.read(units[2]).objects["label"].isna().all()
    assert ogle3.read(units[1], labels=False).objects["label"].isna().all()


def test_ogle3_mixed_time_conventions_are_refused(tmp_path):
    path = tmp_path / "OGLE-LMC-ECL-0001.I.dat"
    path.write_text("2166.8 15.7 0.006\n2452167.8 15.7 0.006\nnan 15.0 0.1\n")
    with pytest.raises(InputError, match=r"ECL-0001\.I\.dat: field 'HJD': times mix"):
        ogle3.read(path)


@settings(max_examples=30, deadline=None)
@given(st.lists(st.tuples(st.floats(2_400_000, 2_470_000), finite, finite), min_size=1, max_size=30))
def test_ogle3_round_trips_exactly(tmp_path_factory, rows):
    path = tmp_path_factory.mktemp("ogle") / "OGLE-SMC-LPV-00001.V.dat"
    path.write_text(rows_text(rows))
    cat = ogle3.read(path)
    rows = np.array(rows, dtype=float)
    np.testing.assert_array_equal(cat.obs["time"], rows[:, 0] - 2400000.5)
    np.testing.assert_array_equal(cat.obs[["value", "error"]].to_numpy(), rows[:, 1:])
    assert cat.objects["label"].tolist() == ["LPV"]


# --- Sesar et al. 2010 Stripe 82 RR Lyrae --------------------------------------------------------------------

def star_rows(rng, n, ra=23.2, dec=1.03) -> list[list[float]]:
    rows = []
    for _ in range(n):
        row = [ra, dec]
        t = float(rng.uniform(51000, 54500))
        for k in range(5):
            row += [t + 0.0017 * k, float(rng.uniform(14, 21)), float(rng.uniform(0.004, 0.1))]
        rows.append(row)
    return rows


def write_archive(path, members: dict[str, bytes], types: str | None = None):
    with tarfile.open(path, "w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    if types is not None:
        path.with_name("table2.dat.gz").write_bytes(gzip.compress(types.encode()))


def types_line(star: str, kind: str, period: float) -> str:
    return " ".join([star, kind, repr(period)] + ["1.0"] * 20) + "\n"


def test_sesar_reads_archive_types_and_missing_flags(tmp_path):
    rng = np.random.default_rng(0)
    rows = star_rows(rng, 4, ra=-23.690417)
    rows[1][3] = -99.99          # u magnitude missing
    rows[2][10] = 99.999         # r error missing
    members = {"table1/": b"", "table1/0README": b"ids\n", "table1/4099.dat": rows_text(rows).encode(),
               "table1/13350.dat": rows_text(star_rows(rng, 2)).encode()}
    archive = tmp_path / "table1.tar.gz"
    write_archive(archive, {k: v for k, v in members.items() if k != "table1/"},
                  "#id type P uA\n" + types_line("4099", "ab", 0.6417) + types_line("77", "c", 0.3))
    units = formats.discover("sesar_s82", tmp_path)
    assert units == [(archive, tmp_path / "table2.dat.gz")]
    cat = formats.read("sesar_s82", units[0])
    assert cat.objects["object_id"].tolist() == ["4099", "13350"]
    assert cat.objects["label"].tolist()[0] == "ab" and pd.isna(cat.objects["label"][1])
    assert cat.objects["period"].tolist()[0] == 0.6417
    assert cat.objects["ra"][0] == pytest.approx(360 - 23.690417)
    assert cat.bands == ["u", "g", "r", "i", "z"] and cat.n_obs == 6 * 5
    star = cat.obs[cat.obs["object_id"] == "4099"]
    u, r = star[star["band"] == "u"], star[star["band"] == "r"]
    assert np.isnan(u["value"].iloc[1]) and u["error"].iloc[1] == rows[1][4]
    assert np.isnan(r["error"].iloc[2]) and r["value"].iloc[2] == rows[2][9]
    assert np.isfinite(star["time"]).all()


@settings(max_examples=25, deadline=None)
@given(st.lists(st.lists(finite, min_size=17, max_size=17), min_size=1, max_size=10))
def test_sesar_round_trips_exactly(tmp_path_factory, rows):
    archive = tmp_path_factory.mktemp("s82") / "table1.tar.gz"
    write_archive(archive, {"table1/1.dat": rows_text(rows).encode()})
    cat = sesar_s82.read(archive)
    rows = np.array(rows, dtype=float)
    for k, band in enumerate(sesar_s82.BANDS):
        got = cat.obs[cat.obs["band"] == band][["time", "value", "error"]].to_numpy()
        want = rows[:, 2 + 3 * k: 5 + 3 * k].copy()
        want[want[:, 1] == -99.99, 1] = np.nan
        want[want[:, 2] == 99.999, 2] = np.nan
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("name", ["../evil.dat", "/abs/evil.dat", "table1/../../evil.dat"])
def test_sesar_refuses_unsafe_members(tmp_path, name):
    archive = tmp_path / "table1.tar.gz"
    write_archive(archive, {name: rows_text(star_rows(np.random.default_rng(1), 1)).encode()})
    with pytest.raises(InputError, match="unsafe archive member"):
        sesar_s82.read(archive)


def test_sesar_refuses_links(tmp_path):
    archive = tmp_path / "table1.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        info = tarfile.TarInfo("table1/1.dat")
        info.type, info.linkname = tarfile.SYMTYPE, "/etc/passwd"
        tar.addfile(info)
    with pytest.raises(InputError, match="unsafe archive member"):
        sesar_s82.read(archive)


S82_BAD = {  # member content -> (line, words)
    "truncated": (lambda r: rows_text(r)[:-30] + "\n", (3, "truncated row")),
    "wrong_columns": (lambda r: rows_text(r).replace("\n", " 1.0\n", 1), (1, "too many fields")),
    "text_in_numbers": (lambda r: rows_text(r).replace(repr(r[1][6]), "faint", 1), (2, "'mag_g'", "not a number")),
    "empty": (lambda r: "", (None, "no observations")),
    "header_only": (lambda r: "# ra dec MJD_u ...\n", (None, "no observations")),
}


@pytest.mark.parametrize("case", sorted(S82_BAD))
def test_sesar_bad_member_names_archive_member_and_line(tmp_path, case):
    make, (line, *words) = S82_BAD[case]
    archive = tmp_path / "table1.tar.gz"
    write_archive(archive, {"table1/5.dat": make(star_rows(np.random.default_rng(2), 3)).encode()})
    with pytest.raises(InputError) as err:
        sesar_s82.read(archive)
    assert err.value.path == f"{archive}[table1/5.dat]" and err.value.line == line
    assert all(w in str(err.value) for w in words)


def test_sesar_bad_archives(tmp_path):
    archive = tmp_path / "table1.tar.gz"
    write_archive(archive, {f"table1/{i}.dat": rows_text(star_rows(np.random.default_rng(i), 40)).encode()
                            for i in range(3)})
    data = archive.read_bytes()
    archive.write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError, match="corrupt or truncated archive"):
        sesar_s82.read(archive)
    archive.write_bytes(b"not an archive at all")
    with pytest.raises(InputError, match="corrupt or truncated archive"):
        sesar_s82.read(archive)
    write_archive(archive, {"table1/0README": b"no stars"})
    with pytest.raises(InputError, match="no <id>.dat light curves"):
        sesar_s82.read(archive)
    write_archive(archive, {"a/1.dat": b"1 " * 17, "b/1.dat": b"1 " * 17})
    with pytest.raises(InputError, match="star 1 appears twice"):
        sesar_s82.read(archive)
    with pytest.raises(InputError, match="no table1.tar.gz"):
        sesar_s82.discover(tmp_path / "elsewhere")
    with pytest.raises(ConfigError, match="bands"):
        sesar_s82.read(archive, bands=["u"])


# --- real samples (opt-in) -----------------------------------------------------------------------------------

@pytest.mark.realdata
def test_sesar_real_stripe82(realdata_dir):
    root = realdata_dir / "sdss_s82_rrlyrae"
    (unit,) = sesar_s82.discover(root)
    cat = sesar_s82.read(unit)
    assert cat.n_objects == 483 and cat.objects["object_id"].is_unique
    assert cat.objects["label"].value_counts().to_dict() == {"ab": 379, "c": 104}
    assert cat.bands == ["u", "g", "r", "i", "z"]
    assert (cat.obs.groupby("object_id")["band"].nunique() == 5).all()
    assert ((cat.objects["ra"] >= 0) & (cat.objects["ra"] < 360)).all()
    assert cat.objects["period"].between(0.2, 1.0).all()
    # light-curve/test-data converted the same files to CSV, dropping only the -99.99 magnitudes
    measured = cat.obs[np.isfinite(cat.obs["value"])].groupby("object_id").size()
    csv = root / "csv" / "RRLyrae" / "light-curves"
    for star in cat.objects["object_id"][::40]:
        assert len(pd.read_csv(csv / f"{star}.csv")) == measured[star]
