"""The first stages of the workflow, one function per rule: simulate or download, ingest a shard, build the store."""
from __future__ import annotations

import json
import logging
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

from astroflow import catalogue, provenance
from astroflow.clean import CleanConfig, clean
from astroflow.datasets import DatasetSpec, resolve
from astroflow.errors import ConfigError, InputError
from astroflow.logs import progress
from astroflow.sources import formats

log = logging.getLogger("astroflow.ingest")


def simulate_dataset(config: dict, name: str, out_dir: str | Path) -> None:
    """Simulate the survey of data set ``name`` into one Parquet long table per shard."""
    from astroflow.sources.simulate import simulate_survey

    spec = resolve(name, config, config["results"])
    cat = simulate_survey(**spec.section["simulate"])
    log.info("simulated %d objects, %d observations", cat.n_objects, cat.n_obs)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    labels = cat.objects.set_index("object_id")["label"]
    part_of = dict(zip(cat.objects["object_id"], np.arange(cat.n_objects) % spec.shards))
    obs = cat.obs.assign(label=cat.obs["object_id"].map(labels).astype("string"))
    part = obs["object_id"].map(part_of).to_numpy()
    for k in range(spec.shards):
        obs[part == k].to_parquet(out / f"part-{k:04d}.parquet", index=False)
    cat.objects.to_parquet(out / "objects.parquet", index=False)


def download_dataset(config: dict, name: str, out_dir: str | Path) -> None:
    """Fetch, verify and unpack a registry survey's files (the folder's SHA256SUMS records them)."""
    from astroflow.sources.registry import fetch_survey

    spec = resolve(name, config, config["results"])
    paths = fetch_survey(spec.section["survey"], out_dir, offline=config.get("offline", False))
    log.info("%s: %d files in place in %s", name, len(paths), out_dir)


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
    cats, bad = [], []
    for unit in progress(units[shard::spec.shards], f"{spec.name} shard {shard}: reading"):
        try:
            cats.append(formats.read(spec.format, unit, **spec.options))
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


def ingest_shard(config: dict, name: str, shard: int, out_store: str | Path, out_qc: str | Path) -> None:
    """Read, label and clean one shard of a data set, and write it as a shard store plus its QC table."""
    from astroflow.store import write_store

    spec = resolve(name, config, config["results"])
    cat, unreadable = read_shard(spec, shard)
    cleaned, qc = clean(cat, CleanConfig(**spec.clean))
    qc = pd.concat([qc, unreadable], ignore_index=True) if len(unreadable) else qc
    n_kept = int(qc["kept"].sum()) if len(qc) else 0
    log.info("shard %d: %d objects in, %d kept; %d observations in, %d kept", shard, len(qc), n_kept,
             cat.n_obs, cleaned.n_obs)
    write_store(cleaned, out_store, class_names=_class_names(spec), qc=qc,
                provenance=provenance.provenance(spec.section, cat.sources))
    qc.to_parquet(out_qc, index=False)


def build_store(config: dict, name: str, shard_stores: list, shard_qcs: list, out_store: str | Path,
                out_qc: str | Path, out_summary: str | Path) -> None:
    """Merge shard stores into the data set's store; join their QC tables and summarise what was dropped."""
    from astroflow.store import LightCurveStore, merge_stores

    spec = resolve(name, config, config["results"])
    inputs = {}
    for s in shard_stores:
        inputs.update(LightCurveStore(s).attrs.get("provenance", {}).get("inputs", {}))
    merge_stores(list(shard_stores), out_store, provenance=provenance.provenance(spec.section, inputs))
    qc = pd.concat([pd.read_parquet(q) for q in shard_qcs], ignore_index=True)
    qc.to_parquet(out_qc, index=False)
    store = LightCurveStore(out_store)
    labels = store.objects["label"].to_numpy()
    summary = {
        "dataset": name,
        "objects_in": len(qc),
        "objects_kept": store.n_objects,
        "observations_in": int(qc["n_input"].sum()),
        "observations_kept": store.n_obs,
        "observations_dropped": {c.removeprefix("n_"): int(qc[c].sum()) for c in qc.columns
                                 if c.startswith("n_") and c not in ("n_input", "n_kept")},
        "objects_dropped_by_reason": {k: int(v) for k, v in qc.loc[~qc["kept"].astype(bool), "reason"]
                                      .str.split(":").str[0].value_counts().items()},
        "objects_per_class": {c: int(np.sum(labels == i)) for i, c in enumerate(store.class_names)},
        "unlabelled": int(np.sum(labels < 0)),
    }
    Path(out_summary).write_text(json.dumps(summary, indent=2))
    log.info("store %s: %d objects (%s)", out_store, store.n_objects, summary["objects_per_class"])
