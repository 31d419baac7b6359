rule pretrain:
    input:
        store=STORE,
        split=SPLIT,
        features=features_input,
    output:
        model=f"{PRETRAINED}/model.pt",
        metrics=f"{PRETRAINED}/metrics.csv",
    params:
        workdir=f"{RESULTS}/{{dataset}}/checkpoints/pretrain/{{model}}/s{{seed}}",
        optimiser=canonical(config["train"]["pretrain"]),
        selection=selection(),
        model=lambda wildcards: model_settings(wildcards, "pretrain"),
        stream=canonical(config["train"]["stream"]),
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
