"""The ingest rule: one shard of a data set read, labelled and cleaned into a shard store and its QC table."""
from __future__ import annotations

import logging
import shutil
import tempfile
import zlib
from collections.abc import Iterator
from dataclasses import asdict, replace
from pathlib import Path

import pandas as pd

from astroflow import catalogue, provenance
from astroflow.clean import CleanConfig, clean
from astroflow.datasets import DatasetSpec
from astroflow.errors import InputError
from astroflow.logs import progress
from astroflow.sources import formats

log = logging.getLogger(__name__)


def _class_names(spec: DatasetSpec) -> list[str] | None:
    """Class order fixed by the config where it says one, so label codes agree across shards and runs."""
    if spec.kind == "simulate":
        from astroflow.sources.simulate import CLASSES

        return list(CLASSES)
    if spec.labels and spec.labels.get("classes"):
        names = list(spec.labels["classes"])
        default = spec.labels.get("default")
        return names + ([default] if default and default not in names else [])
    return None


def _reader(spec: DatasetSpec) -> dict:
    """The format and reader options of a data set, for models trained on it to read new files of the survey alike;
    none for simulated data (the simulator's own files are no format a user's catalogue comes in)."""
    return {} if spec.kind == "simulate" else {"format": spec.format, "options": spec.options}


def shard_units(n_units: int, shards: int, shard: int) -> tuple[list[int], int, int]:
    """What shard ``shard`` of ``shards`` reads: the indices of its units, and the part (of parts) of their objects
    it keeps.

    With at least as many units as shards, every ``shards``-th unit whole (part 0 of 1). With fewer (one big file and
    ``shards: 8``), unit ``shard % n_units`` split by object id over the shards that read it: each of them reads the
    whole unit and keeps its own part, so the cleaning and writing run in parallel and no object is in two shards."""
    if shards <= n_units:
        return list(range(shard, n_units, shards)), 0, 1
    unit = shard % n_units
    return [unit], shard // n_units, len(range(unit, shards, n_units))


def part_of(cat: catalogue.Catalogue, part: int, parts: int) -> catalogue.Catalogue:
    """The objects of ``cat`` whose id falls in ``part`` of ``parts`` (by CRC-32 of the id: the same on every run,
    machine and Python)."""
    if parts == 1:
        return cat
    ids = cat.objects["object_id"].astype(str)
    keep = ids[[zlib.crc32(i.encode()) % parts == part for i in ids]]
    return replace(cat, obs=cat.obs[cat.obs["object_id"].astype(str).isin(keep)].reset_index(drop=True),
                   objects=cat.objects[ids.isin(keep)].reset_index(drop=True))


def read_shard(spec: DatasetSpec, shard: int) -> Iterator[tuple[catalogue.Catalogue, pd.DataFrame]]:
    """The units of one shard as labelled catalogues, each with the QC rows of the files it could not read: one
    catalogue for the shard, or with ``chunk_rows`` one per piece of about that many observations. A malformed file
    stops the run or, with on_bad_file=skip, is recorded (by the first shard reading it)."""
    units = formats.discover(spec.format, spec.root, **spec.options)
    if spec.shards > len(units):
        log.info("%d shards over %d input file(s): each file's objects are split by id over the %s shards reading "
                 "it", spec.shards, len(units), "/".join(str(len(range(u, spec.shards, len(units))))
                                                     for u in range(len(units))))
    extra = None
    if spec.kind == "simulate":  # the simulator's truth per object: position, period, redshift
        extra = pd.read_parquet(Path(spec.root) / "objects.parquet").drop(columns="label")
    indices, part, parts = shard_units(len(units), spec.shards, shard)
    cats, bad, origin = [], [], {}
    for unit in progress([units[i] for i in indices], f"{spec.name} shard {shard}: reading"):
        try:
            if spec.chunk_rows:
                for piece in formats.read_chunks(spec.format, unit, spec.chunk_rows, **spec.options):
                    labelled = _labelled(spec, one_origin(piece, unit, origin), extra)
                    yield part_of(labelled, part, parts), pd.DataFrame(bad)
                    bad = []
            else:
                cats.append(one_origin(formats.read(spec.format, unit, **spec.options), unit, origin))
        except InputError as err:
            if spec.on_bad_file == "raise":
                raise
            log.warning("skipped %s", err)
            first = unit if isinstance(unit, str | Path) else unit[0]
            if part == 0:  # recorded once, by the first of the shards sharing the file
                bad.append({"object_id": Path(first).name, "kept": False, "reason": f"unreadable: {err}"})
    if cats or bad or not spec.chunk_rows:
        cat = catalogue.concat(cats) if cats else catalogue.Catalogue.empty()
        yield part_of(_labelled(spec, cat, extra), part, parts), pd.DataFrame(bad)


def _labelled(spec: DatasetSpec, cat: catalogue.Catalogue, extra: pd.DataFrame | None) -> catalogue.Catalogue:
    """A catalogue with the simulator's truth, the data set's labels and its fixed test split, where it has them."""
    if extra is not None:
        cat = replace(cat, objects=cat.objects.merge(extra, on="object_id", how="left"))
    if spec.labels:
        from astroflow.sources.labels import apply_labels

        cat = apply_labels(cat, **spec.labels)
    if spec.test_ids:
        from astroflow.sources.labels import apply_split

        cat = apply_split(cat, spec.test_ids)
    return cat


def one_origin(cat: catalogue.Catalogue, unit, origin: dict[str, str]) -> catalogue.Catalogue:
    """Refuse an object id already read from another input unit (``origin``: id -> its unit, filled in here).

    An id names one object of a data set, so its observations must come from one unit of the format (a file, or
    e.g. OGLE's band files of one star, which the reader groups). Merging two files' rows of one id would be silent
    when they land in one shard and impossible when they do not, so both are an error naming the two files."""
    where = str(unit if isinstance(unit, str | Path) else unit[0])
    for object_id in cat.objects["object_id"].astype(str):
        first = origin.setdefault(object_id, where)
        if first != where:
            raise InputError(where, f"object {object_id!r} is also in {first}: an object's observations must come "
                             "from one input file; merge or rename them", field="object_id")
    return cat


def read_units(fmt: str, units: list, options: dict) -> catalogue.Catalogue:
    """Read and join the units of a catalogue (astroflow read and predict), each object from one unit."""
    origin: dict[str, str] = {}
    return catalogue.concat([one_origin(formats.read(fmt, unit, **options), unit, origin) for unit in units])


def ingest_shard(spec: DatasetSpec, shard: int, out_store: str | Path, out_qc: str | Path) -> None:
    """Read, label and clean one shard of the data set ``spec``, and write it as a shard store plus its QC table;
    with the data set's ``chunk_rows``, piece by piece (each written as a store, then merged), in bounded memory.
    The store records the cleaning it went through, for the models trained on it to clean new data alike."""
    from astroflow.store import merge_stores, write_store

    settings = CleanConfig(**spec.clean)
    out_store = Path(out_store)
    out_store.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f".{out_store.name}.pieces-", dir=out_store.parent) as folder:
        pieces = Path(folder)
        qcs, paths, n_in, n_kept = [], [], 0, 0
        for i, (cat, unreadable) in enumerate(read_shard(spec, shard)):
            cleaned, qc = clean(cat, settings)
            qc = pd.concat([qc, unreadable], ignore_index=True) if len(unreadable) else qc
            paths.append(pieces / f"{i:05d}.zarr")
            write_store(cleaned, paths[-1], class_names=_class_names(spec), qc=qc,
                        provenance=provenance.provenance(spec.settings()) | {"clean": asdict(settings),
                                                                              "reader": _reader(spec),
                                                                              "inputs": cat.sources})
            qcs.append(qc)
            n_in, n_kept = n_in + cat.n_obs, n_kept + cleaned.n_obs
        qc = pd.concat(qcs, ignore_index=True)
        if len(paths) == 1:  # the usual case: the shard's store as written
            if out_store.exists():
                shutil.rmtree(out_store)
            paths[0].rename(out_store)
        else:  # joined in blocks; the provenance gathers every piece's input checksums
            merge_stores(paths, out_store)
    objects_kept = int(qc["kept"].sum()) if len(qc) else 0
    log.info("shard %d: %d objects in, %d kept; %d observations in, %d kept (%d piece(s))", shard, len(qc),
             objects_kept, n_in, n_kept, len(paths))
    qc.to_parquet(out_qc, index=False)
