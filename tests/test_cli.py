"""The command line: reading a catalogue to check it, summarising a store, clear errors."""
import numpy as np
import pytest

from astroflow.clean import clean
from astroflow.cli import main
from astroflow.sources.simulate import simulate_survey
from astroflow.store import write_store


def test_read_summarises_a_catalogue(tmp_path, capsys):
    path = tmp_path / "lcs.csv"
    path.write_text("object_id,time,band,value,error\na,50000.1,g,17.1,0.02\na,50001.2,g,17.3,0.02\nb,50000.5,r,18.0,0.05\n")
    assert main(["read", "long", str(path)]) == 0
    out = capsys.readouterr().out
    assert "2 objects, 3 observations" in out and "['g', 'r']" in out


def test_read_names_the_bad_line(tmp_path, capsys):
    path = tmp_path / "bad.csv"
    path.write_text("object_id,time,band,value,error\na,50000.1,g,seventeen,0.02\n")
    assert main(["read", "long", str(path)]) == 1
    err = capsys.readouterr().err
    assert "bad.csv" in err and "seventeen" in err


def test_read_of_a_folder_without_input_files_is_a_clear_error(tmp_path, capsys):
    assert main(["read", "long", str(tmp_path)]) == 1
    assert "no input files found for format 'long'" in capsys.readouterr().err


def test_info_counts_classes(tmp_path, capsys):
    cat, _ = clean(simulate_survey(3, seed=1, max_points=60))
    write_store(cat, tmp_path / "lc.zarr", class_names=sorted(np.unique(cat.objects["label"])))
    assert main(["info", str(tmp_path / "lc.zarr")]) == 0
    out = capsys.readouterr().out
    assert f"{cat.n_objects} objects" in out and "RRab" in out


def test_unknown_format_is_a_clear_error(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit:  # argparse's usage error, listing the readers
        main(["read", "fits_of_doom", str(tmp_path)])
    assert exit.value.code == 2
    err = capsys.readouterr().err
    assert "argument format: invalid choice: 'fits_of_doom'" in err and "'long'" in err


def test_formats_prints_whole_descriptions(capsys):
    assert main(["formats"]) == 0
    out = capsys.readouterr().out
    assert "\nlong\n    Bring your own catalogue" in out
    assert "``time_format``" in out and "Rows are never dropped here." in out  # the options, to the last line
    assert main(["formats", "macho"]) == 0
    assert capsys.readouterr().out.startswith("macho\n    MACHO")
    assert main(["formats", "fits_of_doom"]) == 1
