# The spectra branch's models on one split: Spectromer (ViT on spectrum images) and the 1-D CNN (PyTorch, model.pt),
# the random forest and SVM baselines (scikit-learn, model.joblib); scored on the test objects and on the transfer
# data sets (e.g. real spectra), and compared in one table.
SPECTRA_RUN = "{model}/s{seed}"
SPECTRA_NETWORK_NAMES = "|".join(re.escape(n) for n in SPECTRA_NETWORKS)
SPECTRA_BASELINE_NAMES = "|".join(SPECTRA_BASELINES)


def spectra_train_settings(wildcards):
    """The training settings a model uses (only its own overrides; the baselines' own settings)."""
    t = SPECTRA["train"]
    labels = {k: t[k] for k in ("regression", "log1p_z")}
    if wildcards.model in SPECTRA_BASELINES:
        own = {"forest": "forest_trees", "svm": "svm_c"}[wildcards.model]
        return {**labels, "features_bin": t["features_bin"], own: t[own]}
    overrides = {wildcards.model: t["model_overrides"][wildcards.model]} if wildcards.model in t[
        "model_overrides"] else {}
    return {k: v for k, v in t.items() if k not in ("features_bin", "forest_trees", "svm_c", "model_overrides")} | {
        "model_overrides": overrides}


def spectra_model_file(wildcards):
    ext = "joblib" if wildcards.model in SPECTRA_BASELINES else "pt"
    return f"{RESULTS}/{wildcards.dataset}/spectra/train/{wildcards.model}/s{wildcards.seed}/model.{ext}"


def spectra_metrics(dataset, target=None):
    where = "evaluate" if target is None else f"transfer/{target}"
    return [f"{RESULTS}/{dataset}/spectra/{where}/{m}/s{s}/metrics.json" for m in SPECTRA["models"]
            for s in SPECTRA["seeds"]]


def spectra_targets():
    d = SPECTRA["dataset"]
    if not d:
        return []
    return [f"{RESULTS}/{d}/spectra/report/comparison.csv"] + [
        f"{RESULTS}/{d}/spectra/report/transfer_{t}.csv" for t in SPECTRA["transfer"]]


for _name, _ext, _models in (("spectra_train", "pt", SPECTRA_NETWORK_NAMES),
                             ("spectra_baseline", "joblib", SPECTRA_BASELINE_NAMES)):

    rule:
        name:
            _name
        input:
            store=f"{SPECTRA_DIR}/store.zarr",
            split=f"{SPECTRA_DIR}/split.parquet",
        output:
            model=f"{SPECTRA_DIR}/train/{SPECTRA_RUN}/model.{_ext}",
            metrics=f"{SPECTRA_DIR}/train/{SPECTRA_RUN}/training.csv",
        params:
            settings=spectra_train_settings,
            workdir=f"{SPECTRA_DIR}/checkpoints/{SPECTRA_RUN}",
        log:
            f"{RESULTS}/logs/{{dataset}}/spectra/train/{SPECTRA_RUN}.log",
        benchmark:
            f"{RESULTS}/benchmarks/{{dataset}}/spectra/train/{SPECTRA_RUN}.tsv"
        wildcard_constraints:
            model=_models,
        conda:
            "../../envs/train.yaml"
        threads: SPECTRA["threads"]
        resources:
            mem_mb=8000,
            runtime=120,
            gpu=1 if _ext == "pt" else 0,
        script:
            "../../scripts/spectra_train.py"


rule spectra_evaluate:
    input:
        model=spectra_model_file,
        store=f"{SPECTRA_DIR}/store.zarr",
        split=f"{SPECTRA_DIR}/split.parquet",
    output:
        predictions=f"{SPECTRA_DIR}/evaluate/{SPECTRA_RUN}/predictions.parquet",
        metrics=f"{SPECTRA_DIR}/evaluate/{SPECTRA_RUN}/metrics.json",
        redshift=f"{SPECTRA_DIR}/evaluate/{SPECTRA_RUN}/redshift.csv",
    log:
        f"{RESULTS}/logs/{{dataset}}/spectra/evaluate/{SPECTRA_RUN}.log",
    benchmark:
        f"{RESULTS}/benchmarks/{{dataset}}/spectra/evaluate/{SPECTRA_RUN}.tsv"
    conda:
        "../../envs/train.yaml"
    threads: SPECTRA["threads"]
    resources:
        mem_mb=8000,
        runtime=30,
        gpu=0,
    script:
        "../../scripts/spectra_evaluate.py"


rule spectra_transfer:
    input:
        model=spectra_model_file,
        store=f"{RESULTS}/{{target}}/spectra/store.zarr",
    output:
        predictions=f"{SPECTRA_DIR}/transfer/{{target}}/{SPECTRA_RUN}/predictions.parquet",
        metrics=f"{SPECTRA_DIR}/transfer/{{target}}/{SPECTRA_RUN}/metrics.json",
        redshift=f"{SPECTRA_DIR}/transfer/{{target}}/{SPECTRA_RUN}/redshift.csv",
    log:
        f"{RESULTS}/logs/{{dataset}}/spectra/transfer/{{target}}/{SPECTRA_RUN}.log",
    conda:
        "../../envs/train.yaml"
    threads: SPECTRA["threads"]
    resources:
        mem_mb=8000,
        runtime=30,
        gpu=0,
    script:
        "../../scripts/spectra_evaluate.py"


rule spectra_compare:
    input:
        lambda w: spectra_metrics(w.dataset, None if w.scored == "comparison" else w.scored.removeprefix("transfer_")),
    output:
        table=f"{SPECTRA_DIR}/report/{{scored}}.csv",
        markdown=f"{SPECTRA_DIR}/report/{{scored}}.md",
    wildcard_constraints:
        scored=r"comparison|transfer_[A-Za-z0-9_\-]+",
    log:
        f"{RESULTS}/logs/{{dataset}}/spectra/report_{{scored}}.log",
    conda:
        "../../envs/train.yaml"
    resources:
        mem_mb=2000,
        runtime=5,
    script:
        "../../scripts/spectra_compare.py"
