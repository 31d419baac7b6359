"""The survey registry: every packaged YAML passes the schema, bad ones are refused by file and field, and a
survey's files are fetched, verified and unpacked (from local file:// sources: no network here)."""
import hashlib
import io
import tarfile
from pathlib import Path

import pytest
import yaml

from astroflow.errors import ConfigError, DownloadError, InputError
from astroflow.sources import formats
from astroflow.sources.registry import SurveyFile, fetch_survey, get_survey, load_registry, load_survey

SURVEYS = {"alerce_sne30", "atlas_var", "elasticc2", "gaia_dr3", "macho", "ogle3", "plasticc", "ps1",
           "sdss_s82_rrlyrae", "snpcc_des", "ztf_alerce", "ztf_bts_antares"}
PINNED = {"sdss_s82_rrlyrae": "sdss_s82_rrlyrae", "alerce_sne30": "alerce_ztf_sne_30",
          "ztf_bts_antares": "ztf_bts_antares"}  # survey -> folder in ../shared/data holding identical copies


def test_packaged_surveys_pass_the_schema():
    surveys = load_registry()
    assert set(surveys) == SURVEYS
    for name, survey in surveys.items():
        assert survey.name == name and survey.format in formats.names()
        assert survey.citation and survey.licence and survey.description
        assert survey.files or "http" in survey.notes, f"{name}: no files, so the notes must say where to go"
        for f in survey.files:
            assert f.url.startswith(("https://", "ftp://")), f.url
    assert all(f.sha256 for name in PINNED for f in surveys[name].files if not f.archive)


@pytest.mark.realdata
def test_pinned_checksums_match_the_shared_copies(realdata_dir):
    for survey, folder in PINNED.items():
        for f in get_survey(survey).files:
            if f.sha256:
                path = realdata_dir / folder / f.name
                assert hashlib.sha256(path.read_bytes()).hexdigest() == f.sha256, path


def test_unknown_survey_lists_the_known_ones():
    with pytest.raises(ConfigError) as err:
        get_survey("sdss_stripe99")
    assert "sdss_stripe99" in str(err.value) and "ogle3" in str(err.value) and "plasticc" in str(err.value)


GOOD = {"name": "demo", "description": "a demo survey", "format": "long", "licence": "CC0", "citation": "none",
        "notes": "made up for a test", "files": [{"url": "https://example.org/a.csv", "sha256": None}]}


@pytest.mark.parametrize("change, field", [
    ({"name": "other"}, "name"),
    ({"format": "fits_of_rage"}, "format"),
    ({"licence": ""}, "licence"),
    ({"citation": None}, "citation"),
    ({"colour": "blue"}, "colour"),
    ({"files": "a.csv"}, "files"),
    ({"files": [{"url": "gopher://example.org/a.csv"}]}, "files[0].url"),
    ({"files": [{"url": "https://example.org/"}]}, "files[0].url"),
    ({"files": [{"url": "https://example.org/a.csv", "sha256": "abc"}]}, "files[0].sha256"),
    ({"files": [{"url": "https://example.org/a.csv", "sha256": "A" * 64}]}, "files[0].sha256"),
    ({"files": [{"url": "https://example.org/a.csv", "size": -3}]}, "files[0].size"),
    ({"files": [{"url": "https://example.org/a.csv", "archive": "yes"}]}, "files[0].archive"),
    ({"files": [{"url": "https://example.org/a.csv", "archive": True}]}, "files[0].archive"),
    ({"files": [{"url": "https://example.org/a.csv", "subdir": "../up"}]}, "files[0].subdir"),
    ({"files": [{"url": "https://example.org/a.csv", "mirror": "x"}]}, "files[0]"),
    ({"files": [{"url": "https://example.org/a.csv"}, {"url": "https://example.net/a.csv"}]}, "files"),
    ({"root": "/abs"}, "root"),
])
def test_schema_refuses_bad_entries(tmp_path, change, field):
    path = tmp_path / "demo.yaml"
    path.write_text(yaml.safe_dump({**GOOD, **change}))
    with pytest.raises(InputError) as err:
        load_survey(path)
    assert err.value.path == str(path) and err.value.field == field


def test_schema_refuses_broken_yaml(tmp_path):
    (tmp_path / "demo.yaml").write_text("name: demo\nfiles: [unclosed\n")
    with pytest.raises(InputError, match="not valid YAML"):
        load_registry(tmp_path)
    (tmp_path / "demo.yaml").write_text("- just\n- a list\n")
    with pytest.raises(InputError, match="mapping"):
        load_registry(tmp_path)


def test_schema_accepts_a_good_entry(tmp_path):
    (tmp_path / "demo.yaml").write_text(yaml.safe_dump(GOOD))
    survey = load_registry(tmp_path)["demo"]
    assert survey.files == (SurveyFile(url="https://example.org/a.csv"),) and survey.files[0].name == "a.csv"


def write_survey(folder: Path, files: list[dict], **keys) -> Path:
    path = folder / "demo.yaml"
    path.write_text(yaml.safe_dump({**GOOD, **keys, "files": files}))
    return path


def test_fetch_survey_verifies_and_unpacks(tmp_path):
    src = tmp_path / "mirror"
    src.mkdir()
    (src / "labels.csv").write_bytes(b"object_id,label\na,RRab\n")
    with tarfile.open(src / "lcs.tar.gz", "w:gz") as tar:
        for name in ("lcs/a.csv", "lcs/b.csv"):
            info = tarfile.TarInfo(name)
            info.size = 4
            tar.addfile(info, io.BytesIO(b"1,2\n"))
    files = [{"url": (src / "labels.csv").as_uri(), "sha256": hashlib.sha256((src / "labels.csv").read_bytes())
              .hexdigest()},
             {"url": (src / "lcs.tar.gz").as_uri(), "sha256": None, "archive": True, "subdir": "part1"}]
    survey = load_survey(write_survey(tmp_path, files))
    out = tmp_path / "raw"
    got = fetch_survey(survey, out, offline=True)
    assert got == [out / "labels.csv", out / "part1" / "lcs" / "a.csv", out / "part1" / "lcs" / "b.csv"]
    assert fetch_survey(survey, out, offline=True) == got


def test_fetch_survey_offline_lists_every_missing_file(tmp_path):
    files = [{"url": "https://example.org/a.csv", "sha256": "0" * 64}, {"url": "https://example.org/b.csv"}]
    survey = load_survey(write_survey(tmp_path, files))
    with pytest.raises(DownloadError) as err:
        fetch_survey(survey, tmp_path / "raw", offline=True)
    msg = str(err.value)
    assert "2 of 2 files" in msg and str((tmp_path / "raw" / "a.csv").resolve()) in msg and "0" * 64 in msg
    assert str((tmp_path / "raw" / "b.csv").resolve()) in msg


def test_survey_without_files_says_how_to_get_them(tmp_path):
    with pytest.raises(DownloadError) as err:
        fetch_survey("macho", tmp_path / "raw", offline=True)
    assert "macho.anu.edu.au" in str(err.value) and "format: macho" in str(err.value)
