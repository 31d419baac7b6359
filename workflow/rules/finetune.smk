rule finetune:
    input:
        store=STORE,
        split=SPLIT,
        pretrained=pretrained_input,
        features=features_input,
    output:
        model=f"{RESULTS}/{{dataset}}/{FINETUNED}/model.pt",
        split=f"{RESULTS}/{{dataset}}/{FINETUNED}/split.parquet",
        metrics=f"{RESULTS}/{{dataset}}/{FINETUNED}/metrics.csv",
    params:
        workdir=f"{RESULTS}/{{dataset}}/checkpoints/{FINETUNED}",
        pretrained=pretrained_source,
        optimiser=canonical(config["train"]["finetune"]),
        selection=selection(),
        model=lambda wildcards: model_settings(wildcards, "finetune"),
    log:
        f"{RESULTS}/logs/{{dataset}}/{FINETUNED}/finetune.log",
    benchmark:
        f"{RESULTS}/benchmarks/{{dataset}}/{FINETUNED}/finetune.tsv"
    wildcard_constraints:
        model=TORCH_MODELS,
    conda:
        "../../envs/train.yaml"
    threads: config["train"]["threads"]
    resources:
        mem_mb=16000,
        runtime=240,
        gpu=1,
    script:
        "../../scripts/finetune.py"
