# Settings and helpers of the spectra branch's rules (spectra_data.smk, spectra_models.smk).
from astroflow.datasets import expand_path
from astroflow.spectra.models import BASELINES as SPECTRA_BASELINES, NETWORKS as SPECTRA_NETWORKS

SPECTRA = config["spectra"]
SPECTRA_DIR = f"{RESULTS}/{{dataset}}/spectra"


def spectra_source(wildcards):
    """The spectra_store stage's source: simulator settings, or a format and the files' path."""
    if wildcards.dataset not in SPECTRA["datasets"]:
        raise ConfigError("spectra.datasets", f"no spectra data set {wildcards.dataset!r}")
    d = SPECTRA["datasets"][wildcards.dataset]
    if "simulate" in d:
        return {"simulate": canonical(d["simulate"])}
    if "format" not in d or "path" not in d:
        raise ConfigError(f"spectra.datasets.{wildcards.dataset}", "give simulate, or format and path")
    path = expand_path(d["path"], config, f"spectra.datasets.{wildcards.dataset}.path")
    return {"fmt": d["format"], "path": str(path), "on_bad_file": d.get("on_bad_file", "raise")}


SPECTRA_RUN = "{model}/s{seed}"
SPECTRA_NETWORK_NAMES = "|".join(re.escape(n) for n in SPECTRA_NETWORKS)
SPECTRA_BASELINE_NAMES = "|".join(SPECTRA_BASELINES)


def spectra_train_settings(wildcards):
    """The training settings a model uses (only its own overrides; the baselines' own settings)."""
    t = SPECTRA["train"]
    labels = {k: t[k] for k in ("regression", "log1p_z")}
    if wildcards.model in SPECTRA_BASELINES:
        own = {"forest": "forest_trees", "svm": "svm_c"}[wildcards.model]
        return canonical({**labels, "features_bin": t["features_bin"], own: t[own]})
    own = {key: {wildcards.model: t[key][wildcards.model]} if wildcards.model in t[key] else {}
           for key in ("model_overrides", "image_weights")}
    return canonical({k: v for k, v in t.items() if k not in ("features_bin", "forest_trees", "svm_c", *own)} | own)


def spectra_model_file(wildcards):
    ext = "joblib" if wildcards.model in SPECTRA_BASELINES else "pt"
    return f"{RESULTS}/{wildcards.dataset}/spectra/train/{wildcards.model}/s{wildcards.seed}/model.{ext}"


def spectra_metrics(dataset, target=None, output="metrics.json"):
    """metrics.json (or another ``output`` of the evaluation) of every model and seed, on the test spectra or on
    data set ``target``."""
    where = "evaluate" if target is None else f"transfer/{target}"
    return [f"{RESULTS}/{dataset}/spectra/{where}/{m}/s{s}/{output}" for m in SPECTRA["models"]
            for s in SPECTRA["seeds"]]


def spectra_targets():
    d = SPECTRA["dataset"]
    if not d:
        return []
    return [f"{RESULTS}/{d}/spectra/report/comparison.csv"] + [
        f"{RESULTS}/{d}/spectra/report/transfer_{t}.csv" for t in SPECTRA["transfer"]] + [
        f"{RESULTS}/{d}/spectra/report/{figure}.png" for figure in spectra_figures()]


def spectra_figures():
    """The report's spectra figures (report_spectra): class confusion, and redshift when it is regressed; none
    without models."""
    if not SPECTRA["models"]:
        return []
    return ["confusion"] + (["redshift"] if "z" in SPECTRA["train"]["regression"] else [])


