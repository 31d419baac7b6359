"""The survey registry: where each public survey's files live, how to check them, and how to cite them.

One YAML file per survey in ``surveys/``, named for the survey, with the keys

- ``name``, ``description``, ``format`` (a module of :mod:`astroflow.sources.formats`);
- ``files``: a list of ``url`` (https, ftp, doi: or file:), ``sha256`` (null when not pinned: trusted on first
  use and recorded), ``size`` in bytes (null when not known), ``archive`` (unpack after download) and
  optional ``subdir`` (the folder under the download folder it goes to, for files that share a name);
- ``root``: optional folder under the download folder that the reader is pointed at;
- ``licence``, ``citation`` (bibcode or DOI), ``notes`` (how to obtain the data when there is no direct
  URL, and what was not verified).

A survey without files is served by a portal or a query service: its notes say how to get the files, which
then become a local data set.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from urllib.parse import urlparse

import yaml

from astroflow.errors import ConfigError, DownloadError, InputError
from astroflow.sources import formats
from astroflow.sources.download import archive_kind, extract, fetch, unsafe_path, url_file_name

SURVEYS_DIR = Path(__file__).with_name("surveys")
SCHEMES = ("https", "http", "ftp", "doi", "file")
SHA256 = re.compile(r"[0-9a-f]{64}")
TEXT_KEYS = ("name", "description", "format", "licence", "citation", "notes")
FILE_KEYS = ("url", "sha256", "size", "archive", "subdir")


@dataclass(frozen=True)
class SurveyFile:
    url: str
    sha256: str | None = None
    size: int | None = None
    archive: bool = False
    subdir: str = ""

    @property
    def name(self) -> str:
        return url_file_name(self.url)


@dataclass(frozen=True)
class Survey:
    name: str
    description: str
    format: str
    files: tuple[SurveyFile, ...]
    licence: str
    citation: str
    notes: str
    root: str = ""


def load_registry(folder: str | Path | None = None) -> dict[str, Survey]:
    """All surveys described in ``folder`` (default: the packaged ``surveys/``), checked against the schema."""
    folder = Path(folder) if folder is not None else SURVEYS_DIR
    return {path.stem: load_survey(path) for path in sorted(folder.glob("*.yaml"))}


def get_survey(name: str, folder: str | Path | None = None) -> Survey:
    surveys = load_registry(folder)
    if name not in surveys:
        raise ConfigError("survey", f"unknown survey {name!r}; known surveys: {', '.join(surveys) or 'none'}")
    return surveys[name]


def fetch_survey(survey: Survey | str, dest_dir: str | Path, offline: bool = False,
                 progress: bool = True) -> list[Path]:
    """Fetch every file of a survey into ``dest_dir`` and unpack its archives; return the data files in place.

    All files are tried before failing, so that one error lists every file still to place by hand.
    """
    survey = get_survey(survey) if isinstance(survey, str) else survey
    dest_dir = Path(dest_dir)
    if not survey.files:
        raise DownloadError(f"survey {survey.name!r} has no direct download. {survey.notes.strip()}\nOnce the files "
                            f"are in a folder, use it as a local data set (path: <folder>, format: {survey.format}).")
    paths, problems = [], []
    for f in survey.files:
        folder = dest_dir / f.subdir
        try:
            path = fetch(f.url, folder, sha256=f.sha256, offline=offline, progress=progress, size=f.size)
            paths.extend(extract(path, folder) if f.archive else [path])
        except DownloadError as err:
            problems.append(str(err))
    if problems:
        raise DownloadError(f"survey {survey.name!r}: {len(problems)} of {len(survey.files)} files not in place:\n"
                            + "\n".join(problems))
    return paths


def load_survey(path: str | Path) -> Survey:
    """One survey YAML file, checked: a problem is an InputError naming the file and the field."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as err:
        raise InputError(path, f"not valid YAML: {err}") from None
    if not isinstance(data, dict):
        raise InputError(path, "expected a mapping of survey keys")
    unknown = sorted(set(data) - set(TEXT_KEYS) - {"files", "root"})
    if unknown:
        raise InputError(path, f"unknown keys {unknown}", field=unknown[0])
    for key in TEXT_KEYS:
        if not isinstance(data.get(key), str) or not data[key].strip():
            raise InputError(path, "missing or empty (a non-empty string is needed)", field=key)
    if data["name"] != path.stem:
        raise InputError(path, f"name {data['name']!r} differs from the file name {path.stem!r}", field="name")
    if data["format"] not in formats.names():
        raise InputError(path, f"unknown format {data['format']!r}; known: {', '.join(formats.names())}",
                         field="format")
    if not isinstance(data.get("files"), list):
        raise InputError(path, "a list is needed (empty when the survey has no direct download)", field="files")
    files = tuple(_file_entry(path, i, entry) for i, entry in enumerate(data["files"]))
    places = [PurePosixPath(f.subdir, f.name) for f in files]
    if len(set(places)) < len(places):
        raise InputError(path, "two files would land at the same place; give them different subdir", field="files")
    root = data.get("root", "")
    if not isinstance(root, str) or unsafe_path(root):
        raise InputError(path, "a relative folder without '..' is needed", field="root")
    return Survey(name=data["name"], description=data["description"].strip(), format=data["format"], files=files,
                  licence=data["licence"].strip(), citation=data["citation"].strip(), notes=data["notes"].strip(),
                  root=root)


def _file_entry(path: Path, i: int, entry) -> SurveyFile:
    where = f"files[{i}]"
    if not isinstance(entry, dict):
        raise InputError(path, "a mapping with url, sha256, size, archive is needed", field=where)
    unknown = sorted(set(entry) - set(FILE_KEYS))
    if unknown:
        raise InputError(path, f"unknown keys {unknown}", field=where)
    url = entry.get("url")
    if not isinstance(url, str) or urlparse(url).scheme not in SCHEMES:
        raise InputError(path, f"a URL with one of the schemes {SCHEMES} is needed", field=f"{where}.url")
    try:
        name = url_file_name(url)
    except DownloadError as err:
        raise InputError(path, str(err), field=f"{where}.url") from None
    sha256 = entry.get("sha256")
    if sha256 is not None and not (isinstance(sha256, str) and SHA256.fullmatch(sha256)):
        raise InputError(path, "64 lower-case hex digits or null are needed", field=f"{where}.sha256")
    size = entry.get("size")
    if size is not None and (isinstance(size, bool) or not isinstance(size, int) or size <= 0):
        raise InputError(path, "a positive number of bytes or null is needed", field=f"{where}.size")
    archive = entry.get("archive", False)
    if not isinstance(archive, bool):
        raise InputError(path, "true or false is needed", field=f"{where}.archive")
    if archive and archive_kind(name) is None:
        raise InputError(path, f"{name} is not a tar or zip archive by its name", field=f"{where}.archive")
    subdir = entry.get("subdir", "")
    if not isinstance(subdir, str) or unsafe_path(subdir):
        raise InputError(path, "a relative folder without '..' is needed", field=f"{where}.subdir")
    return SurveyFile(url=url, sha256=sha256, size=size, archive=archive, subdir=subdir)
