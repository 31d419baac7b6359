from pathlib import Path

from astroflow.datasets import resolve
from astroflow.represent.materialize import NAMES as REPRESENTATIONS
from astroflow.workflow import export_pythonpath

export_pythonpath(Path(workflow.basedir) / "src")

RESULTS = config["results"]
DATASETS = [config["dataset"]] if isinstance(config["dataset"], str) else config["dataset"]


wildcard_constraints:
    dataset=r"[A-Za-z0-9_\-]+",
    shard=r"\d+",
    representation="|".join(REPRESENTATIONS),


def spec(wildcards):
    return resolve(wildcards.dataset, config, RESULTS)


def raw_input(wildcards):
    """What ingest reads: simulated or downloaded files made by a rule, or the user's own files in place."""
    s = spec(wildcards)
    if s.kind == "simulate":
        return f"{RESULTS}/{wildcards.dataset}/raw/simulated"
    if s.kind == "survey":
        return f"{RESULTS}/{wildcards.dataset}/raw/downloaded"
    return str(s.root)


def shard_outputs(wildcards, suffix):
    n = spec(wildcards).shards
    return [f"{RESULTS}/{wildcards.dataset}/shards/{i}{suffix}" for i in range(n)]


def all_targets():
    targets = []
    for d in DATASETS:
        targets.append(f"{RESULTS}/{d}/lightcurves.zarr")
        for r in config["represent"]["outputs"]:
            targets += [f"{RESULTS}/{d}/represent/{r}.zarr", f"{RESULTS}/{d}/figures/examples_{r}.png"]
    return targets
