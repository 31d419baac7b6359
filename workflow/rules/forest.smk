# The classic baseline: light-curve features + balanced random forest, in the deep models' tables (model "forest",
# init "scratch"); the PyTorch rules take the other models (common.smk TORCH_MODELS).
FOREST_RUN = f"{FOREST}/scratch/n{{n_per_class}}/f{{fold}}/s{{seed}}"


rule features:
    input:
        store=f"{RESULTS}/{{dataset}}/lightcurves.zarr",
    output:
        f"{RESULTS}/{{dataset}}/features.parquet",
    log:
        f"{RESULTS}/logs/{{dataset}}/features.log",
    benchmark:
        f"{RESULTS}/benchmarks/{{dataset}}/features.tsv"
    conda:
        "../../envs/train.yaml"
    threads: config["train"]["threads"]
    resources:
        mem_mb=8000,
        runtime=240,
    script:
        "../../scripts/features.py"


rule train_forest:
    input:
        features=f"{RESULTS}/{{dataset}}/features.parquet",
        split=f"{RESULTS}/{{dataset}}/split.parquet",
    output:
        model=f"{RESULTS}/{{dataset}}/finetune/{FOREST_RUN}/model.joblib",
        split=f"{RESULTS}/{{dataset}}/finetune/{FOREST_RUN}/split.parquet",
    params:
        settings={"split_seed": config["train"]["split_seed"], "forest": config["train"]["forest"]},
    log:
        f"{RESULTS}/logs/{{dataset}}/finetune/{FOREST_RUN}/train_forest.log",
    benchmark:
        f"{RESULTS}/benchmarks/{{dataset}}/finetune/{FOREST_RUN}/train_forest.tsv"
    conda:
        "../../envs/train.yaml"
    threads: config["train"]["threads"]
    resources:
        mem_mb=8000,
        runtime=60,
    script:
        "../../scripts/train_forest.py"


rule evaluate_forest:
    input:
        model=f"{RESULTS}/{{dataset}}/finetune/{FOREST_RUN}/model.joblib",
        features=f"{RESULTS}/{{dataset}}/features.parquet",
        split=f"{RESULTS}/{{dataset}}/split.parquet",
        store=f"{RESULTS}/{{dataset}}/lightcurves.zarr",
    output:
        predictions=f"{RESULTS}/{{dataset}}/evaluate/{FOREST_RUN}/predictions.parquet",
        metrics=f"{RESULTS}/{{dataset}}/evaluate/{FOREST_RUN}/metrics.json",
    log:
        f"{RESULTS}/logs/{{dataset}}/finetune/{FOREST_RUN}/evaluate.log",
    benchmark:
        f"{RESULTS}/benchmarks/{{dataset}}/finetune/{FOREST_RUN}/evaluate.tsv"
    conda:
        "../../envs/train.yaml"
    threads: config["train"]["threads"]
    resources:
        mem_mb=8000,
        runtime=30,
    script:
        "../../scripts/evaluate_forest.py"
