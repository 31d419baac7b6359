"""SDSS Stripe 82 RR Lyrae of Sesar et al. (2010, ApJ 708, 717) as astroML ships them.

``table1.tar.gz`` holds one ``table1/<id>.dat`` per star; every row is ``ra dec`` and then ``MJD mag err`` for
u, g, r, i and z. In these files a magnitude of -99.99 marks a band without a measurement at that epoch and an
error of 99.999 an unmeasured error; both become NaN, so that the cleaner drops those points and records why.
``table2.dat.gz`` beside the archive (optional) gives each star's type, ``ab`` or ``c``, which becomes the
label, and its period in days. Other members of the archive (its ``0README``) are not data and are skipped.

The archive is read member by member in memory; a member with an absolute path or ``..``, or a link, is refused.
Right ascensions, given from -180 to 180 degrees in the files, become 0 to 360. The reader has no options;
the data root is the folder holding the archive, or the archive itself.
"""
from __future__ import annotations

import tarfile
import zlib
from pathlib import Path, PurePosixPath

import numpy as np
import pandas as pd

from astroflow.catalogue import Catalogue
from astroflow.errors import InputError
from astroflow.sources.formats.common import catalogue, check_options, read_table, sources, token_table, unit_paths

BANDS = ("u", "g", "r", "i", "z")
FIELDS = ("ra", "dec") + tuple(f"{name}_{band}" for band in BANDS for name in ("MJD", "mag", "err"))
MISSING_MAG = -99.99
MISSING_ERR = 99.999
PHOTOMETRY = "table1.tar.gz"
TYPES = "table2.dat.gz"
TYPES_FIELDS = ("id", "type", "P") + tuple(f"{band}{name}" for band in BANDS for name in "A0ET")


def discover(root: Path, **options) -> list[tuple[Path, ...]]:
    """The archive, with the types table when it is present: one unit for the whole data set."""
    check_options(options, (), "sesar_s82")
    root = Path(root)
    archive = root if root.is_file() else root / PHOTOMETRY
    if not archive.is_file():
        raise InputError(root, f"no {PHOTOMETRY} (Sesar et al. 2010 light curves) here")
    types = archive.with_name(TYPES)
    return [(archive, types) if types.is_file() else (archive,)]


def read(unit, **options) -> Catalogue:
    check_options(options, (), "sesar_s82")
    archive, *rest = unit_paths(unit)
    stars = read_archive(archive)
    objects = pd.DataFrame({"object_id": [s for s, *_ in stars],
                            "ra": [ra for _, ra, _, _ in stars], "dec": [dec for _, _, dec, _ in stars]})
    if rest:
        types = read_table(rest[0], ("id", "type", "P"), ("P",), delimiter=None, names=TYPES_FIELDS, comment="#")
        types = pd.DataFrame({"object_id": types.column("id").to_pylist(),
                              "label": pd.array(types.column("type").to_pylist(), dtype="string"),
                              "period": types.column("P").to_numpy()})
        objects = objects.merge(types, on="object_id", how="left")
    def column(name):
        return np.concatenate([obs[name] for *_, obs in stars])

    return catalogue(np.repeat([s for s, *_ in stars], [len(obs["time"]) for *_, obs in stars]), column("time"),
                     column("band"), column("value"), column("error"), objects=objects, quantity="mag", unit="mag",
                     survey="SDSS Stripe 82", bands=list(BANDS), sources=sources(archive, *rest))


def read_archive(archive: Path) -> list[tuple[str, float, float, dict[str, np.ndarray]]]:
    """(star id, ra, dec, observations) for every ``.dat`` member, in archive order."""
    stars, seen = [], set()
    try:
        with tarfile.open(archive, "r:*") as tar:
            for member in tar:
                name = PurePosixPath(member.name)
                if name.is_absolute() or ".." in name.parts or member.issym() or member.islnk():
                    raise InputError(archive, f"unsafe archive member {member.name!r} (absolute, '..' or a link)")
                if not (member.isfile() and name.suffix == ".dat"):
                    continue
                star = name.stem
                if star in seen:
                    raise InputError(archive, f"star {star} appears twice ({member.name})")
                seen.add(star)
                stars.append(read_star(f"{archive}[{member.name}]", star, tar.extractfile(member).read()))
    except (tarfile.TarError, OSError, EOFError, zlib.error) as err:
        raise InputError(archive, f"corrupt or truncated archive: {err}") from None
    if not stars:
        raise InputError(archive, "no <id>.dat light curves in the archive")
    return stars


def read_star(where: str, star: str, data: bytes) -> tuple[str, float, float, dict[str, np.ndarray]]:
    """(star id, ra, dec, observation columns) of one member, bands one after the other."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise InputError(where, f"not UTF-8 text (byte {err.start})") from None
    rows = [(n, line.split()) for n, line in enumerate(text.splitlines(), start=1)
            if line.strip() and not line.lstrip().startswith("#")]
    if not rows:
        raise InputError(where, "no observations (empty light curve)")
    table = token_table(where, rows, FIELDS, FIELDS)
    col = {f: table.column(f).to_numpy() for f in FIELDS}
    mag = np.concatenate([col[f"mag_{b}"] for b in BANDS])
    err = np.concatenate([col[f"err_{b}"] for b in BANDS])
    obs = {"time": np.concatenate([col[f"MJD_{b}"] for b in BANDS]), "band": np.repeat(BANDS, len(rows)),
           "value": np.where(mag == MISSING_MAG, np.nan, mag), "error": np.where(err == MISSING_ERR, np.nan, err)}
    return star, float(col["ra"][0]) % 360.0, float(col["dec"][0]), obs
