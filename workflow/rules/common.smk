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
    source=r"[A-Za-z0-9_\-]+",
    model=r"[A-Za-z0-9_\-]+",
    init=r"pretrained|frozen|scratch",
    n_per_class=r"\d+|all",
    fold=r"\d+",
    seed=r"\d+",


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


# The train settings a trained model depends on (params, so that changing them retrains it).
TRAIN_SETTINGS = ("model_overrides", "band", "split_seed", "validation_fraction", "band_sampling", "sync_tolerance",
                  "multiband_pretraining")
FINETUNED_NAME = "{model}/{init}/n{n_per_class}/f{fold}/s{seed}"
FINETUNED = f"finetune/{FINETUNED_NAME}"


def pretrained_input(wildcards):
    """The pretrained encoder a fine-tuning run starts from (none from scratch)."""
    if wildcards.init == "scratch":
        return []
    return f"{RESULTS}/{wildcards.dataset}/pretrain/{wildcards.model}/s{wildcards.seed}/model.pt"


def evaluation_targets(dataset):
    """Test metrics of every configured model, initialisation, labelled-set size, fold and seed."""
    t = config["train"]
    return [f"{RESULTS}/{dataset}/evaluate/{m}/{i}/n{n}/f{f}/s{s}/metrics.json" for m in t["models"]
            for i in t["init"] for n in t["n_per_class"] for f in range(t["folds"]) for s in t["seeds"]]


def all_targets():
    targets = []
    for d in DATASETS:
        targets.append(f"{RESULTS}/{d}/lightcurves.zarr")
        targets += [f"{RESULTS}/{d}/represent/{r}.zarr" for r in config["represent"]["materialize"]]
        targets += [f"{RESULTS}/{d}/figures/examples_{r}.png" for r in config["represent"]["figures"]]
        targets += evaluation_targets(d)
    return targets
