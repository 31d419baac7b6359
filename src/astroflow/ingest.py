"""The ingest rule: one shard of a data set read, labelled and cleaned into a shard store and its QC table."""
from __future__ import annotations

import logging
from dataclasses import asdict, replace
from pathlib import Path

import pandas as pd

from astroflow import catalogue, provenance
from astroflow.clean import CleanConfig, clean
from astroflow.datasets import DatasetSpec
from astroflow.errors import ConfigError, InputError
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


def read_shard(spec: DatasetSpec, shard: int) -> tuple[catalogue.Catalogue, pd.DataFrame]:
    """Read the units of one shard; a malformed file stops the run or, with on_bad_file=skip, is recorded."""
    units = formats.discover(spec.format, spec.root, **spec.options)
    if spec.shards > len(units):
        raise ConfigError(f"datasets.{spec.name}.shards", f"{spec.shards} shards but only {len(units)} input files")
    cats, bad, origin = [], [], {}
    for unit in progress(units[shard::spec.shards], f"{spec.name} shard {shard}: reading"):
        try:
            cats.append(one_origin(formats.read(spec.format, unit, **spec.options), unit, origin))
        except InputError as err:
            if spec.on_bad_file == "raise":
                raise
            log.warning("skipped %s", err)
            first = unit if isinstance(unit, str | Path) else unit[0]
            bad.append({"object_id": Path(first).name, "kept": False, "reason": f"unreadable: {err}"})
    cat = catalogue.concat(cats) if cats else catalogue.Catalogue.empty()
    if spec.kind == "simulate":  # the simulator's truth per object: position, period, redshift
        extra = pd.read_parquet(Path(spec.root) / "objects.parquet").drop(columns="label")
        cat = replace(cat, objects=cat.objects.merge(extra, on="object_id", how="left"))
    if spec.labels:
        from astroflow.sources.labels import apply_labels

        cat = apply_labels(cat, **spec.labels)
    if spec.test_ids:
        from astroflow.sources.labels import apply_split

        cat = apply_split(cat, spec.test_ids)
    return cat, pd.DataFrame(bad)


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
    """Read, label and clean one shard of the data set ``spec``, and write it as a shard store plus its QC table.
    The store records the cleaning it went through, for the models trained on it to clean new data alike."""
    from astroflow.store import write_store

    cat, unreadable = read_shard(spec, shard)
    settings = CleanConfig(**spec.clean)
    cleaned, qc = clean(cat, settings)
    qc = pd.concat([qc, unreadable], ignore_index=True) if len(unreadable) else qc
    n_kept = int(qc["kept"].sum()) if len(qc) else 0
    log.info("shard %d: %d objects in, %d kept; %d observations in, %d kept", shard, len(qc), n_kept,
             cat.n_obs, cleaned.n_obs)
    write_store(cleaned, out_store, class_names=_class_names(spec), qc=qc,
                provenance=provenance.provenance(spec.settings()) | {"clean": asdict(settings), "inputs": cat.sources})
    qc.to_parquet(out_qc, index=False)
