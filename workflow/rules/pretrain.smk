rule pretrain:
    input:
        unpack(pretrain_corpus_inputs),
        store=STORE,
        split=SPLIT,
        features=features_input,
    output:
        model=f"{PRETRAINED}/model.pt",
        metrics=f"{PRETRAINED}/metrics.csv",
    params:
        workdir=f"{RESULTS}/{{dataset}}/checkpoints/pretrain/{{model}}{PRETRAIN_TAG}/s{{seed}}",
        optimiser=canonical({k: v for k, v in config["train"]["pretrain"].items() if k != "datasets"}),
        corpora=pretrain_corpora,
        with_pool=pretrain_with_pool,
        selection=selection(),
        model=lambda wildcards: model_settings(wildcards, "pretrain"),
        stream=canonical(config["train"]["stream"]),
    log:
        f"{RESULTS}/logs/{{dataset}}/pretrain/{{model}}{PRETRAIN_TAG}_s{{seed}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/{{dataset}}/pretrain/{{model}}{PRETRAIN_TAG}_s{{seed}}.tsv"
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
