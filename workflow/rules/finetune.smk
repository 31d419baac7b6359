rule finetune:
    input:
        store=f"{RESULTS}/{{dataset}}/lightcurves.zarr",
        split=f"{RESULTS}/{{dataset}}/split.parquet",
        pretrained=pretrained_input,
    output:
        model=f"{RESULTS}/{{dataset}}/{FINETUNED}/model.pt",
        split=f"{RESULTS}/{{dataset}}/{FINETUNED}/split.parquet",
        metrics=f"{RESULTS}/{{dataset}}/{FINETUNED}/metrics.csv",
    params:
        workdir=f"{RESULTS}/{{dataset}}/checkpoints/{FINETUNED}",
        pretrained=pretrained_source,
        settings={k: config["train"][k] for k in TRAIN_SETTINGS + ("finetune",)},
        image=config["represent"]["image"],
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
