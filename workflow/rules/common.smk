import json
import re
from pathlib import Path

from astroflow import models
from astroflow.datasets import canonical, resolve
from astroflow.errors import ConfigError
from astroflow.models.card import INITS
from astroflow.models.multiband import PerBandFusion
from astroflow.models.vision import VisionConfig
from astroflow.represent.materialize import NAMES as REPRESENTATIONS, dtdm_settings
from astroflow.train.tabular import uses_features
from astroflow.environment import export_pythonpath
from astroflow.uncertainty.sampling import METHODS as UNCERTAINTY_METHODS, WITH_HSA

export_pythonpath(Path(workflow.basedir) / "src")

RESULTS = config["results"]
DATASETS = [config["dataset"]] if isinstance(config["dataset"], str) else config["dataset"]
# The hierarchical stochastic attention settings (uncertainty.hsa) are settings of the *-hsa models it trains;
# those that differ from the presets' join train.model_overrides (so the defaults change no job's params).
for _hsa in (name + models.HSA_SUFFIX for name in config["uncertainty"]["models"]):
    _changed = {k: v for k, v in config["uncertainty"]["hsa"].items()
                if _hsa in models.PRESETS and getattr(models.model_config(_hsa), k) != v}
    if _changed:
        config["train"]["model_overrides"][_hsa] = _changed | config["train"]["model_overrides"].get(_hsa, {})


# The represent rules' settings: the dt/dm shapes are the cnn and rnn models' own (one source of truth).
REPRESENT_SETTINGS = canonical(config["represent"] | dtdm_settings(
    *(models.model_config(m, **config["train"]["model_overrides"].get(m, {})) for m in ("cnn", "rnn"))))


# Pretraining on other data sets (train.pretrain.datasets): their names, sorted, tag the pretrained encoders' paths and
# the fine-tuning runs that start from them, so encoders pretrained on different sets lie side by side.
PRETRAIN_SETS = sorted(set(config["train"]["pretrain"]["datasets"]))
for _name in PRETRAIN_SETS:
    if _name not in config["datasets"]:
        raise ConfigError("train.pretrain.datasets", f"no data set named {_name!r}; defined: "
                          f"{', '.join(sorted(config['datasets']))}")
PRETRAIN_TAG = "@" + "+".join(PRETRAIN_SETS) if PRETRAIN_SETS else ""


wildcard_constraints:
    dataset=r"[A-Za-z0-9_\-]+",
    shard=r"\d+",
    representation="|".join(REPRESENTATIONS),
    source=r"[A-Za-z0-9_\-]+",
    model=r"[A-Za-z0-9_\-]+",
    init="|".join(INITS) + (f"|(pretrained|frozen){re.escape(PRETRAIN_TAG)}" if PRETRAIN_TAG else ""),
    n_per_class=r"\d+|all",
    fold=r"\d+",
    seed=r"\d+",
    part=r"\d+",


# Every artifact's path, written once (wildcards in braces).
SIMULATED = f"{RESULTS}/{{dataset}}/raw/simulated"
DOWNLOADED = f"{RESULTS}/{{dataset}}/raw/downloaded"
SHARD = f"{RESULTS}/{{dataset}}/shards/{{shard}}"  # + .zarr (store) or .qc.parquet (its QC table)
STORE = f"{RESULTS}/{{dataset}}/lightcurves.zarr"
SPLIT = f"{RESULTS}/{{dataset}}/split.parquet"
FEATURES = f"{RESULTS}/{{dataset}}/features.parquet"
# The features and predict jobs of a store: one, or one per share of its objects (train.jobs_per_store) writing
# <table>.part<k>.parquet, which a join rule puts together.
PARTS = config["train"]["jobs_per_store"]
PART = "" if PARTS == 1 else ".part{part}"
PRETRAINED = f"{RESULTS}/{{dataset}}/pretrain/{{model}}{PRETRAIN_TAG}/s{{seed}}"  # + /model.pt, /metrics.csv
FINETUNED_NAME = "{model}/{init}/n{n_per_class}/f{fold}/s{seed}"
FINETUNED = f"finetune/{FINETUNED_NAME}"
EVALUATED = f"{RESULTS}/{{dataset}}/evaluate/{FINETUNED_NAME}"  # + /predictions.parquet, /metrics.json


def spec(wildcards):
    return resolve(wildcards.dataset, config, RESULTS)


def raw_input(wildcards):
    """What ingest reads: simulated or downloaded files made by a rule, or the user's own files in place, and the
    labels and test-id files the data set names."""
    s = spec(wildcards)
    raw = {"simulate": SIMULATED, "survey": DOWNLOADED}.get(s.kind, str(s.root)).format(dataset=wildcards.dataset)
    return [raw] + [str(p) for p in ((s.labels or {}).get("path"), s.test_ids) if p]


def shard_outputs(wildcards, suffix):
    n = spec(wildcards).shards
    return [SHARD.format(dataset=wildcards.dataset, shard=i) + suffix for i in range(n)]


# Rule params: every setting a job uses, canonical (keys sorted), so reordering the config's keys reruns nothing and
# a changed setting reruns exactly the jobs that use it.
def dataset_settings(wildcards):
    """What ingest reads and how: the data set's astroflow.datasets.DatasetSpec."""
    return spec(wildcards).settings()


def simulate_settings(wildcards):
    return canonical(config["datasets"][wildcards.dataset]["simulate"])


def pretrain_corpora(wildcards):
    """The data sets other than the fine-tuning set whose objects pretrain its encoder (train.pretrain.datasets)."""
    return [name for name in PRETRAIN_SETS if name != wildcards.dataset]


def pretrain_with_pool(wildcards):
    """Whether the fine-tuning set's own pool pretrains its encoder: when no data set is named, or it is named."""
    return not PRETRAIN_SETS or wildcards.dataset in PRETRAIN_SETS


def pretrain_corpus_inputs(wildcards):
    """The other data sets' stores (input corpus_<name>) and, for a model that reads features (features_input),
    their feature tables (corpus_<name>_features)."""
    inputs = {}
    for name in pretrain_corpora(wildcards):
        inputs[f"corpus_{name}"] = STORE.format(dataset=name)
        if features_input(wildcards):
            inputs[f"corpus_{name}_features"] = FEATURES.format(dataset=name)
    return inputs


def selection():
    """The draws of the labelled and validation objects (astroflow.train.split)."""
    return canonical({k: config["train"][k] for k in ("split_seed", "validation_fraction", "validation_min_per_class")})


def model_settings(wildcards, stage):
    """The settings the model ``wildcards.model`` reads, for ``stage`` (pretrain or finetune): its preset overrides,
    the band a single-band encoder reads or how a multiband one samples the bands (and, pretraining a per-band
    one, how), and an image model's drawing settings."""
    t, name = config["train"], wildcards.model
    settings = {"overrides": t["model_overrides"].get(name, {})}
    preset = models.model_config(name, **settings["overrides"])
    if models.kind(name) == "classifier":
        if isinstance(preset, VisionConfig):
            settings["image"] = config["represent"]["image"]
    elif preset.n_bands > 0:
        settings |= {"band_sampling": t["band_sampling"], "sync_tolerance": t["sync_tolerance"]}
        if stage == "pretrain" and models.architecture(name) is PerBandFusion:
            settings["pretraining"] = t["multiband_pretraining"]
    else:
        settings["band"] = t["band"]
    return canonical(settings)


FOREST = "forest"  # the light-curve features + random forest baseline (rules in forest.smk)
TORCH_MODELS = "|".join(re.escape(name) for name in models.names())  # the models of the PyTorch rules
ENCODERS = "|".join(re.escape(name) for name in models.PRESETS)  # the models pretrain and encode take
for name in config["train"]["image_weights"]:
    if name not in models.CLASSIFIERS or not isinstance(models.model_config(name), VisionConfig):
        raise ConfigError("train.image_weights", f"{name!r} is not an image model (swinv2-*, vit-*)")


def features_input(wildcards):
    """The features table, for a model that reads light-curve features or folds at their period (astroflow.train.tabular)."""
    preset = models.model_config(wildcards.model, **config["train"]["model_overrides"].get(wildcards.model, {}))
    return FEATURES.format(dataset=wildcards.dataset) if uses_features(preset) else []


def model_kind(name):
    """encoder (pretrained, then fine-tuned), classifier (trained as it is) or forest."""
    return FOREST if name == FOREST else models.kind(name)


def inits(model):
    """How a model's training starts: an encoder's configured inits; other models from scratch, and image models
    also from pretrained image weights when train.image_weights names some and train.init has pretrained."""
    t = config["train"]
    if model_kind(model) == "encoder":
        return [tagged_init(i) for i in t["init"]]
    if t["image_weights"].get(model, "none") != "none" and "pretrained" in t["init"]:
        return ["scratch", "pretrained"]
    return ["scratch"]


def tagged_init(init):
    """An encoder's init as fine-tuning paths name it: starting from the pretrained encoder, with its PRETRAIN_TAG."""
    return init if init == "scratch" else init + PRETRAIN_TAG


def pretrained_source(wildcards):
    """What a fine-tuning run starts from: the pretrained encoder, image weights (a file, or hub), or nothing."""
    if wildcards.init == "scratch":
        return ""
    if model_kind(wildcards.model) == "classifier":
        source = config["train"]["image_weights"].get(wildcards.model, "none")
        return "" if source == "none" else source
    return f"{PRETRAINED.format(dataset=wildcards.dataset, model=wildcards.model, seed=wildcards.seed)}/model.pt"


def pretrained_input(wildcards):
    """The file a fine-tuning run starts from (none from scratch or from the hub)."""
    source = pretrained_source(wildcards)
    return [] if source in ("", "hub") else source


def evaluation_targets(dataset):
    """Test metrics of every configured model, initialisation, labelled-set size, fold and seed."""
    t = config["train"]
    return [f"{EVALUATED.format(dataset=dataset, model=m, init=i, n_per_class=n, fold=f, seed=s)}/metrics.json"
            for m in t["models"]
            for i in inits(m) for n in t["n_per_class"] for f in range(t["folds"]) for s in t["seeds"]]


def all_targets():
    targets = []
    for d in DATASETS:
        targets.append(STORE.format(dataset=d))
        targets += [f"{RESULTS}/{d}/represent/{r}.zarr" for r in config["represent"]["materialize"]]
        targets += report_targets(d)
    return targets


# The report (report.smk): which figures the configured run has data for.
def training_runs(dataset, stage):
    """(metrics.csv, label, panel) of every pretraining (one per encoder with a pretrained init, and seed) or
    fine-tuning run (every PyTorch model, init, labelled-set size, fold and seed)."""
    t = config["train"]
    if stage == "pretrain":
        return [(f"{PRETRAINED.format(dataset=dataset, model=m, seed=s)}/metrics.csv", f"seed {s}", m)
                for m in pretrained_encoders() for s in t["seeds"]]
    return [(f"{RESULTS}/{dataset}/{FINETUNED.format(model=m, init=i, n_per_class=n, fold=f, seed=s)}/metrics.csv",
             f"n={n} f{f} s{s}", f"{m} ({i})")
            for m in t["models"] if m != FOREST for i in inits(m) for n in t["n_per_class"]
            for f in range(t["folds"]) for s in t["seeds"]]


def pretrained_encoders():
    """The encoders the run pretrains (those fine-tuned from a pretrained or frozen encoder)."""
    t = config["train"]
    return [m for m in t["models"] if model_kind(m) == "encoder" and set(inits(m)) - {"scratch"}]


def report_targets(dataset):
    """Every report figure and table the configured run has data for."""
    t, report = config["train"], f"{RESULTS}/{dataset}/report"
    targets = [f"{report}/{name}" for name in ("dataset_summary.csv", "dataset_summary.png", "lightcurves.png")]
    targets += [f"{RESULTS}/{dataset}/figures/examples_{r}.png" for r in config["represent"]["figures"]]
    if not t["models"]:
        return targets
    targets += [f"{report}/comparison.csv", f"{report}/confusion.png", f"{report}/per_class_f1.png"]
    if len(t["n_per_class"]) > 1:
        targets.append(f"{report}/f1_vs_labelled.png")
    if training_runs(dataset, "finetune"):
        targets.append(f"{report}/finetune_loss.png")
    if pretrained_encoders():
        encoder, seed = pretrained_encoders()[0], t["seeds"][0]
        targets += [f"{report}/pretrain_loss.png", f"{report}/embeddings_{encoder}_s{seed}.png",
                    f"{report}/period_probe_{encoder}_s{seed}.png"]
    if uncertainty_targets(dataset):
        targets += [f"{report}/uncertainty.csv"] + [f"{report}/uncertainty_{name}.png" for name in UNCERTAINTY_FIGURES]
    return targets


# Uncertainty (uncertainty.smk)
UNCERTAIN = "{model}/{init}/n{n_per_class}/f{fold}/s{seed}/{method}"
# Out-of-distribution detection: the models fine-tuned again without uncertainty.held_out_classes, and their scores,
# in a tree of their own beside the uncertainty runs (+ /{FINETUNED} and /{UNCERTAIN}).
HELD_OUT = f"{RESULTS}/{{dataset}}/uncertainty/held_out"
UNCERTAINTY_SETTINGS = ("passes", "bins", "coverage_points", "max_rows", "seed", "calibration")
UNCERTAINTY_FIGURES = ("reliability", "risk_coverage", "scores")  # the report's figures (report_uncertainty)


def uncertain_model(model, method):
    """The model a method samples: the stochastic attention methods read the model's *-hsa preset."""
    return model + models.HSA_SUFFIX if method in WITH_HSA else model


def ensemble_seeds(seed):
    """Training seeds of ensemble number ``seed``: M of them, disjoint from every other ensemble's."""
    m = config["uncertainty"]["members"]
    return list(range(seed * m, seed * m + m))


def uncertainty_targets(dataset, output="metrics.json", held_out=False):
    """metrics.json (or another ``output`` of the uncertainty rule) of every configured model, method, fold and seed
    (train.folds, train.seeds); encoders at uncertainty.init and uncertainty.n_per_class, other models trained from
    scratch. ``held_out``: those of the models trained without uncertainty.held_out_classes (none when it is empty)."""
    u, t = config["uncertainty"], config["train"]
    if held_out and not u["held_out_classes"]:
        return []
    root = HELD_OUT.format(dataset=dataset) if held_out else f"{RESULTS}/{dataset}/uncertainty"
    runs = []
    for model in u["models"]:
        init = tagged_init(u["init"]) if model_kind(model) == "encoder" else "scratch"
        for method in u["methods"]:
            if method in WITH_HSA and model_kind(model) != "encoder":
                raise ConfigError("uncertainty.methods", f"{method} needs an encoder (stochastic attention); "
                                  f"{model!r} is not one")
            run = f"{model}/{init}/n{u['n_per_class']}"
            runs += [f"{root}/{run}/f{f}/s{s}/{method}/{output}"
                     for f in range(t["folds"]) for s in t["seeds"]]
    return runs


def uncertainty_members(wildcards, root=f"{RESULTS}/{{dataset}}"):
    """The fine-tuned models a method reads (under ``root``: HELD_OUT for those trained without the held-out classes):
    the *-hsa model for the stochastic attention methods, the M ensemble members' seeds seed*M ... seed*M + M-1 for
    ensemble, else the run's own model."""
    run = dict(wildcards) | {"model": uncertain_model(wildcards.model, wildcards.method)}
    seeds = ensemble_seeds(int(wildcards.seed)) if wildcards.method == "ensemble" else [wildcards.seed]
    return [f"{root}/{FINETUNED}".format(**(run | {"seed": s})) for s in seeds]


# The pretrain job (workflow/rules/pretrain.smk): its settings, and one job on several GPUs under torchrun.
PRETRAIN_RUN = config["train"]["pretrain"]
PRETRAIN_GPUS, PRETRAIN_NODES = PRETRAIN_RUN["gpus"], PRETRAIN_RUN["nodes"]
PRETRAIN_PARAMS = {
    "workdir": f"{RESULTS}/{{dataset}}/checkpoints/pretrain/{{model}}{PRETRAIN_TAG}/s{{seed}}",
    "optimiser": canonical({k: v for k, v in PRETRAIN_RUN.items() if k not in ("datasets", "gpus", "nodes")}),
    "corpora": pretrain_corpora,
    "with_pool": pretrain_with_pool,
    "selection": selection(),
    "model": lambda wildcards: model_settings(wildcards, "pretrain"),
    "stream": canonical(config["train"]["stream"]),
}


def pretrain_job(wildcards, input, output, threads):
    """The pretrain job (astroflow.train.pretrain.pretrain_job's arguments) as JSON, for each torchrun process."""
    params = {k: v(wildcards) if callable(v) else v.format(**wildcards) if isinstance(v, str) else v
              for k, v in PRETRAIN_PARAMS.items()}
    return json.dumps({"input": dict(input.items()), "output": dict(output.items()), "params": params,
                       "wildcards": dict(wildcards.items()), "threads": threads}, sort_keys=True)


def torchrun():
    """The launcher of one pretraining job on PRETRAIN_GPUS GPUs of each of PRETRAIN_NODES nodes: on one node
    torchrun alone; on several, one torchrun per node through srun (inside the job's Slurm allocation), meeting
    at the first node."""
    if PRETRAIN_NODES == 1:
        return f"torchrun --standalone --nproc_per_node {PRETRAIN_GPUS}"
    first = "$(scontrol show hostnames $SLURM_JOB_NODELIST | head -n 1)"
    return (f"srun --ntasks-per-node 1 torchrun --nnodes {PRETRAIN_NODES} --nproc_per_node {PRETRAIN_GPUS} "
            f"--rdzv_backend c10d --rdzv_id $SLURM_JOB_ID --rdzv_endpoint {first}:29500")
