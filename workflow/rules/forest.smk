# The classic baseline: light-curve features + random forest (train.forest), in the deep models' tables (model "forest",
# init "scratch"); the PyTorch rules take the other models (common.smk TORCH_MODELS).
FOREST_RUN = f"{FOREST}/scratch/n{{n_per_class}}/f{{fold}}/s{{seed}}"


rule train_forest:
    input:
        features=FEATURES,
        split=SPLIT,
    output:
        model=f"{RESULTS}/{{dataset}}/finetune/{FOREST_RUN}/model.skops",
        split=f"{RESULTS}/{{dataset}}/finetune/{FOREST_RUN}/split.parquet",
    params:
        forest=canonical(config["train"]["forest"]),
        selection=selection(),
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
        model=f"{RESULTS}/{{dataset}}/finetune/{FOREST_RUN}/model.skops",
        features=FEATURES,
        split=SPLIT,
        store=STORE,
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
