PREDICTED = f"{RESULTS}/{{dataset}}/predict/{{source}}/{FINETUNED_NAME}"  # + .parquet


rule predict:
    input:
        model=f"{RESULTS}/{{source}}/{FINETUNED}/model.pt",
        store=STORE,
        features=features_input,
    output:
        f"{PREDICTED}.parquet" if PARTS == 1 else temp(f"{PREDICTED}{PART}.parquet"),
    params:
        stream=canonical(config["train"]["stream"]),
        parts=PARTS,
    log:
        f"{RESULTS}/logs/{{dataset}}/predict/{{source}}/{FINETUNED_NAME}{PART}.log",
    benchmark:
        f"{RESULTS}/benchmarks/{{dataset}}/predict/{{source}}/{FINETUNED_NAME}{PART}.tsv"
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


if PARTS > 1:

    rule predict_join:
        input:
            expand(f"{PREDICTED}.part{{part}}.parquet", part=range(PARTS), allow_missing=True),
        output:
            f"{PREDICTED}.parquet",
        log:
            f"{RESULTS}/logs/{{dataset}}/predict/{{source}}/{FINETUNED_NAME}.join.log",
        wildcard_constraints:
            model=TORCH_MODELS,
        conda:
            "../../envs/data.yaml"
        resources:
            mem_mb=2000,
            runtime=30,
        script:
            "../../scripts/join_parquet.py"
