"""ZTF alert photometry as the ANTARES broker exports it: one CSV per object (the file name is the ZTF id),
columns ``ant_mjd, ant_passband, ant_mag, ant_magerr`` (an unnamed index column first is ignored).

Passbands ``g``, ``R`` and ``i`` are ZTF g, r and i; any other passband is passed on unchanged for the cleaner
to record as an unknown band. No options.
"""
from __future__ import annotations

from pathlib import Path

from astroflow.catalogue import Catalogue
from astroflow.sources.formats import common

COLUMNS = ("ant_mjd", "ant_passband", "ant_mag", "ant_magerr")
PASSBANDS = {"g": "g", "R": "r", "r": "r", "i": "i"}
BANDS = ["g", "r", "i"]


def discover(root: Path, /, **options) -> list[Path]:
    common.check_options(options, (), "antares")
    return common.list_files(root, ["*.csv", "*.csv.gz"])


def read(unit: str | Path, /, **options) -> Catalogue:
    common.check_options(options, (), "antares")
    path = Path(unit)
    table = common.read_table(path, COLUMNS, numeric=("ant_mjd", "ant_mag", "ant_magerr"))
    band = common.band_names(table.column("ant_passband").to_numpy(zero_copy_only=False), PASSBANDS)
    return common.catalogue(common.object_id_from(path), table.column("ant_mjd").to_numpy(), band,
                            table.column("ant_mag").to_numpy(), table.column("ant_magerr").to_numpy(),
                            quantity="mag", unit="mag", survey="ZTF", bands=BANDS, sources=common.sources(path))
