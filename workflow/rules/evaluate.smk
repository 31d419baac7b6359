rule evaluate:
    input:
        model=f"{RESULTS}/{{dataset}}/{FINETUNED}/model.pt",
        store=STORE,
        split=SPLIT,
        features=features_input,
    output:
        predictions=f"{EVALUATED}/predictions.parquet",
        metrics=f"{EVALUATED}/metrics.json",
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
        gpu=1,
    script:
        "../../scripts/evaluate.py"
