"""Gaia DR3 epoch photometry reader: DataLink VOTable, ECSV and CSV files written here with astropy."""
import gzip

import numpy as np
import pytest
from astropy.io.votable import from_table
from astropy.table import Table
from hypothesis import given, settings
from hypothesis import strategies as st

from astroflow.errors import ConfigError, InputError
from astroflow.sources import formats
from astroflow.sources.formats import gaia_dr3

MAG_PER_FLUX = 2.5 / np.log(10.0)


def transits(source_id=4111834567779557376, bands=("G", "BP", "RP", "G"), time=(1700.25, 1700.26, 1700.27, 1750.0),
             mag=(15.0, 15.5, 14.4, 15.1), flux=(1e4, 2e3, 3e3, 9e3), flux_error=(10.0, 20.0, 30.0, 9.0),
             phot=(False, True, False, False), vari=(False, False, True, False)) -> Table:
    """A table with the columns (and types) of the archive's EPOCH_PHOTOMETRY product."""
    n = len(bands)
    flux, flux_error = np.array(flux, dtype=float), np.array(flux_error, dtype=float)
    with np.errstate(all="ignore"):
        flux_over_error = (flux / flux_error).astype(np.float32)
    return Table({"solution_id": np.full(n, 375316653866487564, dtype=np.int64),
                  "source_id": np.full(n, source_id, dtype=np.int64),
                  "transit_id": np.arange(n, dtype=np.int64) + 17091,
                  "band": np.array(bands), "time": np.array(time, dtype=float),
                  "mag": np.array(mag, dtype=float), "flux": flux, "flux_error": flux_error,
                  "flux_over_error": flux_over_error,
                  "rejected_by_photometry": np.array(phot), "rejected_by_variability": np.array(vari),
                  "other_flags": np.zeros(n, dtype=np.int64)})


def write(table: Table, path):
    fmt = {".xml": "votable", ".ecsv": "ascii.ecsv", ".csv": "ascii.csv"}[path.suffix]
    table.write(path, format=fmt, overwrite=True)
    return path


@pytest.mark.parametrize("suffix", [".xml", ".ecsv", ".csv", ".xml.gz", ".ecsv.gz"])
def test_gaia_reads_every_datalink_format(tmp_path, suffix):
    path = write(transits(), tmp_path / f"EPOCH_PHOTOMETRY-Gaia DR3 4111834567779557376{suffix.removesuffix('.gz')}")
    if suffix.endswith(".gz"):
        path = path.with_name(path.name + ".gz")
        path.write_bytes(gzip.compress(path.with_suffix("").read_bytes()))
        path.with_suffix("").unlink()
    assert formats.discover("gaia_dr3", tmp_path) == [path]
    cat = formats.read("gaia_dr3", path)
    assert cat.objects["object_id"].tolist() == ["4111834567779557376"]
    assert cat.obs["band"].tolist() == ["G", "BP", "RP", "G"] and cat.bands == ["G", "BP", "RP"]
    # time is BJD(TCB) - 2455197.5; JD 2455197.5 is MJD 55197.0
    np.testing.assert_array_equal(cat.obs["time"], np.array([1700.25, 1700.26, 1700.27, 1750.0]) + 55197.0)
    np.testing.assert_allclose(cat.obs["error"], MAG_PER_FLUX * np.array([1e-3, 1e-2, 1e-2, 1e-3]), rtol=1e-12)
    assert cat.obs["value"].tolist() == [15.0, 15.5, 14.4, 15.1]
    assert (cat.quantity, cat.unit, cat.survey) == ("mag", "mag", "Gaia DR3")
    assert cat.objects["n_rejected_dropped"].tolist() == [0]


def test_gaia_drop_rejected_records_what_it_drops(tmp_path):
    table = transits()
    table.add_row(table[0])
    table[-1]["source_id"], table[-1]["rejected_by_photometry"] = 77, True
    path = write(table, tmp_path / "many.ecsv")
    assert gaia_dr3.read(path).n_obs == 5
    both = gaia_dr3.read(path, drop_rejected=True)
    assert both.obs["band"].tolist() == ["G", "G"]
    assert both.objects.set_index("object_id")["n_rejected_dropped"].to_dict() == {
        "4111834567779557376": 2, "77": 1}   # source 77 lost its only transit and is still listed
    assert gaia_dr3.read(path, drop_rejected="photometry").obs["band"].tolist() == ["G", "RP", "G"]
    assert gaia_dr3.read(path, drop_rejected="variability").obs["band"].tolist() == ["G", "BP", "G", "G"]
    for bad in ("all", ["photometry"]):
        with pytest.raises(ConfigError, match="drop_rejected"):
            gaia_dr3.read(path, drop_rejected=bad)
    with pytest.raises(ConfigError, match="reject"):
        gaia_dr3.read(path, reject=True)


def test_gaia_votable_with_several_tables_and_mag_errors(tmp_path):
    votable = from_table(transits(source_id=1))
    second = transits(source_id=2, bands=("G",), time=(1800.0,), mag=(16.0,), flux=(5e3,), flux_error=(5.0,),
                      phot=(False,), vari=(False,))
    second["mag_error"] = [0.02]
    votable.resources.append(from_table(second).resources[0])
    path = tmp_path / "two.vot"
    votable.to_xml(str(path))
    cat = gaia_dr3.read(path)
    assert cat.objects["object_id"].tolist() == ["1", "2"] and cat.n_obs == 5
    assert cat.obs["error"].iloc[-1] == 0.02


@settings(max_examples=20, deadline=None)
@given(st.lists(st.tuples(st.floats(1600, 3000), st.sampled_from(["G", "BP", "RP"]), st.floats(5, 22),
                          st.floats(1e-3, 1e9), st.floats(0, 1e6), st.booleans()), min_size=1, max_size=15),
       st.sampled_from([".xml", ".ecsv", ".csv"]))
def test_gaia_round_trips_exactly(tmp_path_factory, rows, suffix):
    time, bands, mag, flux, flux_error, flag = (list(c) for c in zip(*rows))
    table = transits(bands=bands, time=time, mag=mag, flux=flux, flux_error=flux_error, phot=flag, vari=flag)
    cat = gaia_dr3.read(write(table, tmp_path_factory.mktemp("gaia") / f"x{suffix}"))
    assert cat.obs["band"].tolist() == bands
    np.testing.assert_array_equal(cat.obs["time"], np.array(time) + 55197.0)
    np.testing.assert_array_equal(cat.obs["value"], mag)
    np.testing.assert_array_equal(cat.obs["error"], MAG_PER_FLUX * np.array(flux_error) / np.array(flux))


def test_gaia_passes_bad_values_to_the_cleaner(tmp_path):
    nan = float("nan")
    table = transits(bands=("G", "G", "XP", "RP", "G"), time=(1750.0, 1700.0, 1700.0, 1700.0, nan),
                     mag=(nan, 15.0, 15.0, 15.0, 15.0), flux=(1.0, -5.0, 1.0, 1.0, 1.0),
                     flux_error=(1.0, 1.0, -1.0, 0.0, 1.0), phot=(False,) * 5, vari=(False,) * 5)
    cat = gaia_dr3.read(write(table, tmp_path / "bad.ecsv"))
    assert cat.n_obs == 5 and cat.bands == ["G", "RP", "XP"]
    assert cat.obs["time"].tolist()[:4] == [56947.0, 56897.0, 56897.0, 56897.0] and np.isnan(cat.obs["time"][4])
    assert np.isnan(cat.obs["value"][0]) and cat.obs["error"].tolist()[1:4] == [MAG_PER_FLUX / -5, -MAG_PER_FLUX, 0.0]
    one = gaia_dr3.read(write(transits(bands=("G",), time=(1.0,), mag=(1.0,), flux=(1.0,), flux_error=(1.0,),
                                       phot=(False,), vari=(False,)), tmp_path / "one.csv"))
    assert one.n_obs == 1


def csv_text(tmp_path) -> str:
    return write(transits(), tmp_path / "good.csv").read_text()


BAD = {  # name -> (make file text from a good CSV / ECSV / VOTable, words of the message)
    "truncated.csv": (lambda t: t[: len(t) // 2], ("truncated row",)),
    "wrong_columns.csv": (lambda t: t.replace(",time,", ",epoch,"), ("missing column", "'time'")),
    "text_in_numbers.csv": (lambda t: t.replace(",15.5,", ",bright,"), ("'mag'", "not a number: 'bright'")),
    "bad_flag.csv": (lambda t: t.replace("True", "maybe", 1), ("'rejected_by_photometry'", "not a boolean")),
    "header_only.csv": (lambda t: t.splitlines()[0] + "\n", ("no transits",)),
    "empty.csv": (lambda t: "", ("empty file",)),
    "truncated.xml": (lambda t: t[: len(t) // 2], ("cannot read votable",)),
    "empty.xml": (lambda t: "", ("cannot read votable",)),
    "truncated.ecsv": (lambda t: t[: -20], ("cannot read ascii.ecsv",)),
    "not_ecsv.ecsv": (lambda t: "source_id band\n1 G\n", ("cannot read ascii.ecsv",)),
    "unknown.txt": (lambda t: t, ("unknown file type",)),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_gaia_bad_input_names_file_and_problem(tmp_path, case):
    make, words = BAD[case]
    suffix = "." + case.rsplit(".", 1)[1]
    good = write(transits(), tmp_path / f"good{suffix if suffix != '.txt' else '.csv'}").read_text()
    path = tmp_path / case
    path.write_text(make(good))
    with pytest.raises(InputError) as err:
        gaia_dr3.read(path)
    assert err.value.path == str(path)
    assert all(w in str(err.value) for w in words), str(err.value)


def test_gaia_corrupt_gzip(tmp_path):
    path = tmp_path / "x.ecsv.gz"
    path.write_bytes(gzip.compress(write(transits(), tmp_path / "x.ecsv").read_bytes())[:50])
    with pytest.raises(InputError, match=r"x\.ecsv\.gz: cannot read"):
        gaia_dr3.read(path)
