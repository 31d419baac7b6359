rule evaluate:
    input:
        model=f"{RESULTS}/{{dataset}}/{FINETUNED}/model.pt",
        store=f"{RESULTS}/{{dataset}}/lightcurves.zarr",
        split=f"{RESULTS}/{{dataset}}/split.parquet",
    output:
        predictions=f"{RESULTS}/{{dataset}}/evaluate/{FINETUNED_NAME}/predictions.parquet",
        metrics=f"{RESULTS}/{{dataset}}/evaluate/{FINETUNED_NAME}/metrics.json",
    log:
        f"{RESULTS}/logs/{{dataset}}/{FINETUNED}/evaluate.log",
    benchmark:
        f"{RESULTS}/benchmarks/{{dataset}}/{FINETUNED}/evaluate.tsv"
    wildcard_constraints:
        model=TORCH_MODELS,
    conda:
        "../../envs/train.yaml"
    threads: config["train"]["threads"]
    resources:
        mem_mb=8000,
        runtime=60,
    script:
        "../../scripts/evaluate.py"


rule predict:
    input:
        model=f"{RESULTS}/{{source}}/{FINETUNED}/model.pt",
        store=f"{RESULTS}/{{dataset}}/lightcurves.zarr",
    output:
        f"{RESULTS}/{{dataset}}/predict/{{source}}/{FINETUNED_NAME}.parquet",
    log:
        f"{RESULTS}/logs/{{dataset}}/predict/{{source}}/{FINETUNED_NAME}.log",
    wildcard_constraints:
        model=TORCH_MODELS,
    conda:
        "../../envs/train.yaml"
    threads: config["train"]["threads"]
    resources:
        mem_mb=8000,
        runtime=60,
    script:
        "../../scripts/predict.py"
