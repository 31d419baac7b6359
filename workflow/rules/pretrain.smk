rule split:
    input:
        store=f"{RESULTS}/{{dataset}}/lightcurves.zarr",
    output:
        f"{RESULTS}/{{dataset}}/split.parquet",
    params:
        settings={k: config["train"][k] for k in ("test_fraction", "split_seed")},
    log:
        f"{RESULTS}/logs/{{dataset}}/split.log",
    conda:
        "../../envs/train.yaml"
    resources:
        mem_mb=4000,
        runtime=10,
    script:
        "../../scripts/split.py"


rule pretrain:
    input:
        store=f"{RESULTS}/{{dataset}}/lightcurves.zarr",
        split=f"{RESULTS}/{{dataset}}/split.parquet",
    output:
        model=f"{RESULTS}/{{dataset}}/pretrain/{{model}}/s{{seed}}/model.pt",
        metrics=f"{RESULTS}/{{dataset}}/pretrain/{{model}}/s{{seed}}/metrics.csv",
    params:
        workdir=f"{RESULTS}/{{dataset}}/checkpoints/pretrain/{{model}}/s{{seed}}",
        settings={k: config["train"][k] for k in TRAIN_SETTINGS + ("pretrain",)},
    log:
        f"{RESULTS}/logs/{{dataset}}/pretrain/{{model}}_s{{seed}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/{{dataset}}/pretrain/{{model}}_s{{seed}}.tsv"
    wildcard_constraints:
        model=ENCODERS,
    conda:
        "../../envs/train.yaml"
    threads: config["train"]["threads"]
    resources:
        mem_mb=16000,
        runtime=720,
        gpu=1,
    script:
        "../../scripts/pretrain.py"


rule encode:
    input:
        model=f"{RESULTS}/{{dataset}}/pretrain/{{model}}/s{{seed}}/model.pt",
        store=f"{RESULTS}/{{dataset}}/lightcurves.zarr",
    output:
        directory(f"{RESULTS}/{{dataset}}/embeddings/{{model}}/s{{seed}}.zarr"),
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
    script:
        "../../scripts/encode.py"
