rule encode:
    input:
        model=f"{PRETRAINED}/model.pt",
        store=STORE,
        features=features_input,
    output:
        directory(f"{RESULTS}/{{dataset}}/embeddings/{{model}}/s{{seed}}.zarr"),
    params:
        stream=canonical(config["train"]["stream"]),
    log:
        f"{RESULTS}/logs/{{dataset}}/encode/{{model}}_s{{seed}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/{{dataset}}/encode/{{model}}_s{{seed}}.tsv"
    wildcard_constraints:
        model=ENCODERS,
    conda:
        "../../envs/train.yaml"
    threads: config["train"]["threads"]
    resources:
        mem_mb=8000,
        runtime=60,
        gpu=1,
    script:
        "../../scripts/encode.py"
