"""SNANA readers: text ``.DAT`` files and FITS HEAD/PHOT pairs (fixtures written here with astropy)."""
import gzip

import astropy.units as u
import numpy as np
import pandas as pd
import pytest
from astropy.io import fits
from astropy.table import Table
from hypothesis import given, settings
from hypothesis import strategies as st

from astroflow.catalogue import concat
from astroflow.errors import ConfigError, InputError
from astroflow.sources import formats
from astroflow.sources.formats import snana_fits, snana_text

SNPCC_CLASSES = {"Ia": ["1"], "II": ["2?"], "Ibc": ["3", "3?"]}
VARLIST = ["MJD", "FLT", "FIELD", "FLUXCAL", "FLUXCALERR", "SNR", "MAG", "MAGERR"]


def dat_text(snid="1186", sntype="22", rows=(), varlist=VARLIST, nobs=None, extra="") -> str:
    head = (f"SURVEY: DES\nSNID:   {snid}\nSNTYPE:  {sntype}\nFILTERS: griz\nRA:      48.000000  deg\n"
            f"DECL:    -1.5  deg\nREDSHIFT_FINAL:   0.36827 +- 0.00500  (CMB)\n{extra}\n# ====\n"
            f"NOBS: {len(rows) if nobs is None else nobs}\nNVAR: {len(varlist)}\nVARLIST:  {'  '.join(varlist)}\n")
    return head + "".join(f"OBS:  {row}\n" for row in rows) + "END:\n"


def obs_row(mjd, band, flux, err) -> str:
    return f"{mjd!r}  {band} NULL  {flux!r}  {err!r}  0.5  99.0  5.0"


ROWS = [obs_row(56283.203, "g", 3.182, 6.285), obs_row(56283.211, "r", -4.973, 3.326),
        obs_row(56290.5, "z", 110.6, 5.05)]


# --- text -------------------------------------------------------------------------------------------------------

def test_snana_text_reads_header_and_obs_by_varlist_name(tmp_path):
    (tmp_path / "DES_SN001186.DAT").write_text(dat_text(rows=ROWS))
    reordered = ["FLUXCALERR", "FLT", "MJD", "FLUXCAL"]
    (tmp_path / "DES_SN000007.DAT.gz").write_bytes(gzip.compress(dat_text(
        snid="7", sntype="1", varlist=reordered, rows=["0.5 i 56300.0 12.0"]).encode()))
    (tmp_path / "spectro.list").write_text("DES_SN001186.DAT\n")
    units = formats.discover("snana_text", tmp_path)
    assert units == [tmp_path / "DES_SN000007.DAT.gz", tmp_path / "DES_SN001186.DAT"]
    cat = formats.read("snana_text", units[1])
    assert cat.obs["time"].tolist() == [56283.203, 56283.211, 56290.5]
    assert cat.obs["band"].tolist() == ["g", "r", "z"] and cat.bands == ["g", "r", "z"]
    assert cat.obs["value"].tolist() == [3.182, -4.973, 110.6] and cat.obs["error"].tolist() == [6.285, 3.326, 5.05]
    meta = cat.objects.iloc[0]
    assert (meta.object_id, meta.type_code, meta.label, meta.ra, meta.dec, meta.redshift) == (
        "1186", "22", "22", 48.0, -1.5, 0.36827)
    assert (cat.quantity, cat.survey) == ("flux", "DES")
    # FLUXCAL: AB magnitude 27.5 is one unit of flux
    assert cat.quantity_of("value")[2].to(u.ABmag).value == pytest.approx(27.5 - 2.5 * np.log10(110.6))
    other = formats.read("snana_text", units[0])
    assert other.obs[["time", "band", "value", "error"]].values.tolist() == [[56300.0, "i", 12.0, 0.5]]


def test_snana_text_classes_option_maps_type_codes(tmp_path):
    for snid, code in [("1", "1"), ("2", "22"), ("3", "3"), ("4", "33"), ("5", "99")]:
        (tmp_path / f"SN{snid}.DAT").write_text(dat_text(snid=snid, sntype=code, rows=ROWS[:1]))
    cat = concat([snana_text.read(p, classes=SNPCC_CLASSES) for p in snana_text.discover(tmp_path)])
    assert cat.objects["label"].tolist()[:4] == ["Ia", "II", "Ibc", "Ibc"]
    assert cat.objects["label"].isna().tolist() == [False] * 4 + [True]
    assert cat.objects["type_code"].tolist() == ["1", "22", "3", "33", "99"]
    with pytest.raises(ConfigError, match="typo"):
        snana_text.read(tmp_path / "SN1.DAT", typo=1)


def test_snana_text_unknown_redshift_and_missing_type(tmp_path):
    path = tmp_path / "a.DAT"
    path.write_text(dat_text(rows=ROWS).replace("SNTYPE:  22\n", "").replace("0.36827 +- 0.00500", "-9.0"))
    meta = snana_text.read(path).objects.iloc[0]
    assert np.isnan(meta.redshift) and pd.isna(meta.type_code) and pd.isna(meta.label)


band = st.sampled_from(["g", "r", "i", "z", "Y", "q"])
finite = st.floats(-1e7, 1e7, allow_nan=False, allow_infinity=False)


@settings(max_examples=30, deadline=None)
@given(st.lists(st.tuples(finite, band, st.floats(width=64), st.floats(width=64)), min_size=1, max_size=25))
def test_snana_text_round_trips_exactly(tmp_path_factory, obs):
    path = tmp_path_factory.mktemp("snana") / "x.DAT"
    path.write_text(dat_text(rows=[obs_row(*o) for o in obs]))
    cat = snana_text.read(path)
    assert cat.obs["band"].tolist() == [o[1] for o in obs]
    np.testing.assert_array_equal(cat.obs[["time", "value", "error"]].to_numpy(dtype=float),
                                  np.array([(o[0], o[2], o[3]) for o in obs], dtype=float))


TEXT_PASS = {  # the cleaner's to record: every row comes through as written
    "nan_inf": [obs_row(1.0, "g", float("nan"), 1.0), obs_row(2.0, "g", float("inf"), 1.0)],
    "one_point": [obs_row(1.0, "g", 5.0, 1.0)],
    "unsorted": [obs_row(3.0, "g", 5.0, 1.0), obs_row(1.0, "r", 5.0, 1.0)],
    "duplicate_times": [obs_row(1.0, "g", 5.0, 1.0), obs_row(1.0, "g", 6.0, 1.0)],
    "negative_errors": [obs_row(1.0, "g", 5.0, -1.0), obs_row(2.0, "g", 5.0, 0.0)],
    "unknown_band": [obs_row(1.0, "Q", 5.0, 1.0)],
}


@pytest.mark.parametrize("case", sorted(TEXT_PASS))
def test_snana_text_passes_bad_values_to_the_cleaner(tmp_path, case):
    path = tmp_path / "x.DAT"
    path.write_text(dat_text(rows=TEXT_PASS[case]))
    cat = snana_text.read(path)
    want = [row.split() for row in TEXT_PASS[case]]
    assert cat.obs["band"].tolist() == [w[1] for w in want]
    np.testing.assert_array_equal(cat.obs[["time", "value", "error"]].to_numpy(dtype=float),
                                  np.array([[w[0], w[3], w[4]] for w in want], dtype=float))


TEXT_BAD = {  # file text -> (line, words in the message)
    "truncated": (dat_text(rows=ROWS)[:-60], (10, "NOBS says 3", "truncated")),
    "truncated_row": (dat_text(rows=ROWS[:1] + ["56290.5  z NULL  110.6"]), (14, "truncated row")),
    "wrong_columns": (dat_text(rows=ROWS[:1] + [ROWS[1] + " 7.0"]), (14, "too many fields")),
    "text_in_numbers": (dat_text(rows=[ROWS[0].replace("3.182", "bright")]), (13, "'FLUXCAL'", "not a number")),
    "missing_column": (dat_text(rows=ROWS, varlist=VARLIST[:4] + ["FLUXERR"] + VARLIST[5:]),
                       (12, "'FLUXCALERR'", "VARLIST lacks FLUXCALERR")),
    "no_varlist": (dat_text(rows=[]).replace("VARLIST:", "NAMES:"), (None, "no VARLIST")),
    "obs_before_varlist": (dat_text(rows=ROWS).replace("VARLIST:", "NAMES:"), (13, "OBS row before VARLIST")),
    "no_snid": (dat_text(rows=ROWS).replace("SNID:", "ID:"), (None, "'SNID'", "no SNID")),
    "bad_header_number": (dat_text(rows=ROWS).replace("0.36827 +-", "z=0.37 +-"), (7, "'REDSHIFT_FINAL'", "z=0.37")),
    "empty": ("", (None, "empty file")),
    "header_only": (dat_text(rows=[]), (None, "no OBS rows")),
}


@pytest.mark.parametrize("case", sorted(TEXT_BAD))
def test_snana_text_bad_input_names_file_line_and_problem(tmp_path, case):
    text, (line, *words) = TEXT_BAD[case]
    path = tmp_path / "DES_SN1.DAT"
    path.write_text(text)
    with pytest.raises(InputError) as err:
        snana_text.read(path)
    assert err.value.path == str(path) and err.value.line == line, str(err.value)
    assert all(w in str(err.value) for w in words), str(err.value)


def test_snana_text_corrupt_files(tmp_path):
    path = tmp_path / "x.DAT.gz"
    path.write_bytes(gzip.compress(dat_text(rows=ROWS).encode())[:40])
    with pytest.raises(InputError, match=r"x\.DAT\.gz: cannot read"):
        snana_text.read(path)
    path = tmp_path / "y.DAT"
    path.write_bytes(b"SNID: 1\n\xff\xfe\x00garbage")
    with pytest.raises(InputError, match=r"y\.DAT: cannot read"):
        snana_text.read(path)
    (tmp_path / "z.DAT").write_text(dat_text(rows=ROWS))
    with pytest.raises(InputError, match="also in another file"):
        snana_text.read([tmp_path / "z.DAT", tmp_path / "z.DAT"])


# --- FITS -------------------------------------------------------------------------------------------------------

def write_pair(folder, objects, name="ELASTICC_TRAIN_NONIaMODEL0-0001", separators=True, band="BAND", head_extra=None):
    """HEAD/PHOT files for ``objects``: a list of (snid, sntype, [(mjd, band, flux, err), ...])."""
    rows, first, last = [], [], []
    for _, _, obs in objects:
        first.append(len(rows) + 1)
        rows += obs
        last.append(len(rows))
        if separators:
            rows.append((-777.0, "-", 0.0, 0.0))
    head = Table({"SNID": [str(o[0]) for o in objects], "SNTYPE": np.array([o[1] for o in objects], dtype=np.int32),
                  "RA": np.linspace(0, 10, len(objects)), "DEC": np.linspace(-5, 5, len(objects)),
                  "REDSHIFT_FINAL": np.full(len(objects), 0.25, dtype=np.float32),
                  "NOBS": np.array([len(o[2]) for o in objects], dtype=np.int32),
                  "PTROBS_MIN": np.array(first, dtype=np.int32), "PTROBS_MAX": np.array(last, dtype=np.int32),
                  **(head_extra or {})})
    phot = Table({"MJD": np.array([r[0] for r in rows], dtype=np.float64),
                  band: np.array([f"{r[1]:<2}" for r in rows]),
                  "FLUXCAL": np.array([r[2] for r in rows], dtype=np.float32),
                  "FLUXCALERR": np.array([r[3] for r in rows], dtype=np.float32)})
    head.meta["SURVEY"] = "LSST"
    head_path, phot_path = folder / f"{name}_HEAD.FITS.gz", folder / f"{name}_PHOT.FITS.gz"
    head.write(head_path, overwrite=True)
    phot.write(phot_path, overwrite=True)
    return head_path, phot_path


OBJECTS = [("a1", 10, [(60000.5, "u", 1.5, 0.5), (60001.5, "g", 2.5, 0.25)]),
           ("b22", 42, [(60002.0, "r", -3.0, 1.0)]),
           ("c333", 10, [(60003.0, "i", 4.0, 2.0), (60003.5, "z", 5.0, 2.0), (60004.0, "Y", 6.0, 2.0)])]


def test_snana_fits_reads_pairs_by_pointer(tmp_path):
    (tmp_path / "model").mkdir()
    pair = write_pair(tmp_path / "model", OBJECTS)
    write_pair(tmp_path, OBJECTS[:1], name="DES.X", band="FLT")
    units = formats.discover("snana_fits", tmp_path)
    assert units == [(tmp_path / "DES.X_HEAD.FITS.gz", tmp_path / "DES.X_PHOT.FITS.gz"), pair]
    cat = formats.read("snana_fits", pair)
    assert cat.objects["object_id"].tolist() == ["a1", "b22", "c333"]
    assert cat.obs["object_id"].tolist() == ["a1", "a1", "b22", "c333", "c333", "c333"]
    assert cat.obs["band"].tolist() == ["u", "g", "r", "i", "z", "Y"]
    assert cat.obs["value"].tolist() == [1.5, 2.5, -3.0, 4.0, 5.0, 6.0]
    assert cat.objects["type_code"].tolist() == ["10", "42", "10"]
    assert cat.objects["redshift"].tolist() == [0.25] * 3 and cat.survey == "LSST"
    assert cat.quantity == "flux" and cat.quantity_of("error").unit.is_equivalent(u.Jy)
    labelled = snana_fits.read(pair, classes={"SN Ia": ["10"]})
    assert labelled.objects["label"].isna().tolist() == [False, True, False]
    assert formats.read("snana_fits", units[0]).obs["band"].tolist() == ["u", "g"]
    assert snana_fits.read(pair[0]).n_obs == 6   # a HEAD file alone finds its partner


def test_snana_fits_label_column_and_empty_objects(tmp_path):
    objects = OBJECTS[:1] + [("empty", 42, [])] + OBJECTS[1:2]
    head, phot = write_pair(tmp_path, objects, head_extra={"SIM_TYPE_INDEX": np.array([11, 0, 12])})
    cat = snana_fits.read((head, phot), label_column="SIM_TYPE_INDEX")
    assert cat.objects["object_id"].tolist() == ["a1", "empty", "b22"]   # kept for the cleaner to record
    assert cat.objects["label"].tolist() == ["11", "0", "12"]
    assert cat.obs["object_id"].tolist() == ["a1", "a1", "b22"]
    with pytest.raises(InputError, match="'NOPE'"):
        snana_fits.read((head, phot), label_column="NOPE")
    assert snana_fits.read((head, phot), label_column=None).objects["label"].isna().all()


obs_strategy = st.lists(st.tuples(st.floats(50000, 70000), st.sampled_from("ugrizY"),
                                  st.floats(-1e6, 1e6, width=32), st.floats(0, 1e4, width=32)), max_size=8)


@settings(max_examples=25, deadline=None)
@given(st.lists(obs_strategy, min_size=1, max_size=6), st.booleans())
def test_snana_fits_round_trips_exactly(tmp_path_factory, light_curves, separators):
    folder = tmp_path_factory.mktemp("fits")
    objects = [(f"id{i}", i, lc) for i, lc in enumerate(light_curves)]
    cat = snana_fits.read(write_pair(folder, objects, separators=separators))
    flat = [(f"id{i}", *o) for i, lc in enumerate(light_curves) for o in lc]
    assert cat.obs["object_id"].tolist() == [f[0] for f in flat] and cat.obs["band"].tolist() == [f[2] for f in flat]
    np.testing.assert_array_equal(cat.obs[["time", "value", "error"]].to_numpy(dtype=float),
                                  np.array([f[1:2] + f[3:] for f in flat], dtype=float).reshape(-1, 3))
    assert cat.n_objects == len(light_curves)


def test_snana_fits_passes_bad_values_to_the_cleaner(tmp_path):
    nan = float("nan")
    objects = [("x", 1, [(3.0, "g", nan, 1.0), (1.0, "g", 5.0, -1.0), (1.0, "g", 6.0, 1.0), (2.0, "?", 1.0, 1.0)]),
               ("one", 1, [(1.0, "r", 1.0, 1.0)])]
    cat = snana_fits.read(write_pair(tmp_path, objects))
    assert cat.obs["time"].tolist() == [3.0, 1.0, 1.0, 2.0, 1.0] and cat.obs["band"].tolist()[3] == "?"
    assert np.isnan(cat.obs["value"][0]) and cat.obs["error"][1] == -1.0


def corrupt(path, how):
    data = path.read_bytes()
    if how == "truncated":
        raw = gzip.decompress(data)
        path.write_bytes(gzip.compress(raw[: 2880 + 100]))
    elif how == "garbage":
        path.write_bytes(b"SIMPLE  =  nonsense" * 50)
    elif how == "bad_gzip":
        path.write_bytes(data[: len(data) // 2])
    elif how == "no_table":
        fits.PrimaryHDU().writeto(path, overwrite=True)


@pytest.mark.parametrize("which", ["HEAD", "PHOT"])
@pytest.mark.parametrize("how", ["truncated", "garbage", "bad_gzip", "no_table"])
def test_snana_fits_corrupt_files_name_the_file(tmp_path, which, how):
    head, phot = write_pair(tmp_path, OBJECTS)
    bad = head if which == "HEAD" else phot
    corrupt(bad, how)
    with pytest.raises(InputError) as err:
        snana_fits.read((head, phot))
    assert err.value.path == str(bad) and "corrupt or truncated FITS" in str(err.value)


def test_snana_fits_missing_partner_and_columns(tmp_path):
    head, phot = write_pair(tmp_path, OBJECTS)
    phot.unlink()
    for call in (lambda: snana_fits.discover(tmp_path), lambda: snana_fits.read(head),
                 lambda: snana_fits.read((head, phot))):
        with pytest.raises(InputError, match="no PHOT partner") as err:
            call()
        assert err.value.path == str(head)
    head, phot = write_pair(tmp_path, OBJECTS)
    table = Table.read(phot)
    table.rename_column("FLUXCALERR", "FLUXERR")
    table.write(phot, overwrite=True)
    with pytest.raises(InputError, match="missing column.*'FLUXCALERR'") as err:
        snana_fits.read((head, phot))
    assert err.value.path == str(phot)


def rewrite_head(head, **columns):
    table = Table.read(head)
    for name, values in columns.items():
        table[name] = np.array(values, dtype=np.int32)
    table.write(head, overwrite=True)


@pytest.mark.parametrize("pointers, words", [
    ({"PTROBS_MAX": [2, 4, 99]}, "SNID c333: pointers 6..99 lie outside the 9 rows"),
    ({"PTROBS_MIN": [0, 4, 6]}, "SNID a1: pointers 0..2 lie outside"),
    ({"PTROBS_MIN": [1, 2, 6], "PTROBS_MAX": [2, 4, 8]}, "pointer ranges of SNID a1 and SNID b22 overlap"),
    ({"PTROBS_MAX": [3, 4, 8]}, "SNID a1: rows 1..3 include a -777 separator row"),
])
def test_snana_fits_bad_pointers(tmp_path, pointers, words):
    head, phot = write_pair(tmp_path, OBJECTS)
    rewrite_head(head, **pointers)
    with pytest.raises(InputError, match=words) as err:
        snana_fits.read((head, phot))
    assert err.value.path in (str(head), str(phot))


def test_snana_fits_options_and_names(tmp_path):
    with pytest.raises(ConfigError, match="bands"):
        snana_fits.discover(tmp_path, bands="ugrizY")
    head, _ = write_pair(tmp_path, OBJECTS[:1] * 2)
    with pytest.raises(InputError, match="SNID a1 appears twice"):
        snana_fits.read(head)
    with pytest.raises(InputError, match="not a HEAD file"):
        snana_fits.read(tmp_path / "lightcurves.fits")


# --- real sample (opt-in) ---------------------------------------------------------------------------------------

@pytest.mark.realdata
def test_snana_text_real_snpcc(realdata_dir):
    units = snana_text.discover(realdata_dir / "snpcc_des_sim" / "spectro_subset")
    assert len(units) == 1103
    cat = concat([snana_text.read(p, classes=SNPCC_CLASSES) for p in units])
    assert cat.n_objects == 1103 and cat.objects["object_id"].is_unique
    assert cat.objects["label"].value_counts().to_dict() == {"Ia": 559, "II": 400, "Ibc": 144}
    assert cat.objects["type_code"].value_counts().to_dict() == {
        "1": 559, "22": 326, "32": 71, "21": 63, "33": 58, "3": 15, "23": 11}
    assert cat.n_obs == 90345 and cat.bands == ["g", "r", "i", "z"]
    assert cat.objects["redshift"].between(0.01, 2).all() and np.isfinite(cat.obs["time"]).all()
