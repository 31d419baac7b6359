rule predict:
    input:
        model=f"{RESULTS}/{{source}}/{FINETUNED}/model.pt",
        store=STORE,
        features=features_input,
    output:
        f"{RESULTS}/{{dataset}}/predict/{{source}}/{FINETUNED_NAME}.parquet",
    params:
        stream=canonical(config["train"]["stream"]),
    log:
        f"{RESULTS}/logs/{{dataset}}/predict/{{source}}/{FINETUNED_NAME}.log",
    benchmark:
        f"{RESULTS}/benchmarks/{{dataset}}/predict/{{source}}/{FINETUNED_NAME}.tsv"
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
        "../../scripts/predict.py"
