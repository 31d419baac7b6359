import re
from pathlib import Path

from astroflow import models
from astroflow.datasets import resolve
from astroflow.errors import ConfigError
from astroflow.models.vision import VisionConfig
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


FOREST = "forest"  # the light-curve features + balanced random forest baseline (rules in forest.smk)
TORCH_MODELS = "|".join(re.escape(name) for name in models.names())  # the models of the PyTorch rules
ENCODERS = "|".join(re.escape(name) for name in models.PRESETS)  # the models pretrain and encode take
for name in config["train"]["image_weights"]:
    if name not in models.CLASSIFIERS or not isinstance(models.model_config(name), VisionConfig):
        raise ConfigError("train.image_weights", f"{name!r} is not an image model (swinv2-*, vit-*)")


def model_kind(name):
    """encoder (pretrained, then fine-tuned), classifier (trained as it is) or forest."""
    return FOREST if name == FOREST else models.kind(name)


def inits(model):
    """How a model's training starts: an encoder's configured inits; other models from scratch, and image models
    also from pretrained image weights when train.image_weights names some and train.init has pretrained."""
    t = config["train"]
    if model_kind(model) == "encoder":
        return t["init"]
    if t["image_weights"].get(model, "none") != "none" and "pretrained" in t["init"]:
        return ["scratch", "pretrained"]
    return ["scratch"]


def pretrained_source(wildcards):
    """What a fine-tuning run starts from: the pretrained encoder, image weights (a file, or hub), or nothing."""
    if wildcards.init == "scratch":
        return ""
    if model_kind(wildcards.model) == "classifier":
        source = config["train"]["image_weights"].get(wildcards.model, "none")
        return "" if source == "none" else source
    return f"{RESULTS}/{wildcards.dataset}/pretrain/{wildcards.model}/s{wildcards.seed}/model.pt"


def pretrained_input(wildcards):
    """The file a fine-tuning run starts from (none from scratch or from the hub)."""
    source = pretrained_source(wildcards)
    return [] if source in ("", "hub") else source


def evaluation_targets(dataset):
    """Test metrics of every configured model, initialisation, labelled-set size, fold and seed."""
    t = config["train"]
    return [f"{RESULTS}/{dataset}/evaluate/{m}/{i}/n{n}/f{f}/s{s}/metrics.json" for m in t["models"]
            for i in inits(m) for n in t["n_per_class"] for f in range(t["folds"]) for s in t["seeds"]]


def all_targets():
    targets = []
    for d in DATASETS:
        targets.append(f"{RESULTS}/{d}/lightcurves.zarr")
        targets += [f"{RESULTS}/{d}/represent/{r}.zarr" for r in config["represent"]["materialize"]]
        targets += [f"{RESULTS}/{d}/figures/examples_{r}.png" for r in config["represent"]["figures"]]
        targets.append(f"{RESULTS}/{d}/report/comparison.csv")
    return targets
