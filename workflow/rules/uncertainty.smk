# Predictive uncertainty of fine-tuned classifiers (astroflow.uncertainty): every configured method scores every
# labelled test object; a summary table per data set. Ensemble members are fine-tuning runs of other seeds, so a
# cluster trains them in parallel.
rule uncertainty:
    input:
        models=lambda w: [f"{run}/model.pt" for run in uncertainty_members(w)],
        train_split=lambda w: f"{uncertainty_members(w)[0]}/split.parquet",
        store=STORE,
        split=SPLIT,
        features=features_input,
    output:
        objects=f"{RESULTS}/{{dataset}}/uncertainty/{UNCERTAIN}/objects.parquet",
        metrics=f"{RESULTS}/{{dataset}}/uncertainty/{UNCERTAIN}/metrics.json",
        reliability=f"{RESULTS}/{{dataset}}/uncertainty/{UNCERTAIN}/reliability.csv",
        coverage=f"{RESULTS}/{{dataset}}/uncertainty/{UNCERTAIN}/coverage.csv",
    params:
        settings=canonical({k: config["uncertainty"][k] for k in UNCERTAINTY_SETTINGS}),
    log:
        f"{RESULTS}/logs/{{dataset}}/uncertainty/{UNCERTAIN}.log",
    benchmark:
        f"{RESULTS}/benchmarks/{{dataset}}/uncertainty/{UNCERTAIN}.tsv"
    wildcard_constraints:
        model=TORCH_MODELS,
        method="|".join(UNCERTAINTY_METHODS),
    conda:
        "../../envs/train.yaml"
    threads: config["train"]["threads"]
    resources:
        mem_mb=8000,
        runtime=60,
        gpu=1,
    script:
        "../../scripts/uncertainty.py"


rule uncertainty_summary:
    input:
        metrics=lambda w: uncertainty_targets(w.dataset) + uncertainty_targets(w.dataset, held_out=True),
        # each score against the deterministic 1 - max p on the same objects (paired bootstrap)
        objects=lambda w: [path for held_out in (False, True)
                           for path in uncertainty_targets(w.dataset, "objects.parquet", held_out)],
    output:
        table=report(f"{RESULTS}/{{dataset}}/report/uncertainty.csv", caption="../report/uncertainty.rst",
                     category="Uncertainty"),
        markdown=f"{RESULTS}/{{dataset}}/report/uncertainty.md",
    log:
        f"{RESULTS}/logs/{{dataset}}/uncertainty_summary.log",
    conda:
        "../../envs/train.yaml"
    resources:
        mem_mb=2000,
        runtime=10,
    script:
        "../../scripts/uncertainty_summary.py"


# Out-of-distribution detection (uncertainty.held_out_classes): every model the uncertainty runs read, fine-tuned
# again on the same objects less those of the held-out classes (the pretrained encoders are shared: pretraining reads
# no labels), then scored by every method on all test objects; those of the held-out classes are the ones to find.
use rule finetune as finetune_held_out with:
    output:
        model=f"{HELD_OUT}/{FINETUNED}/model.pt",
        split=f"{HELD_OUT}/{FINETUNED}/split.parquet",
        metrics=f"{HELD_OUT}/{FINETUNED}/metrics.csv",
    params:
        workdir=f"{RESULTS}/{{dataset}}/checkpoints/held_out/{FINETUNED}",
        held_out_classes=sorted(config["uncertainty"]["held_out_classes"]),
    log:
        f"{RESULTS}/logs/{{dataset}}/held_out/{FINETUNED}/finetune.log",
    benchmark:
        f"{RESULTS}/benchmarks/{{dataset}}/held_out/{FINETUNED}/finetune.tsv"


use rule uncertainty as uncertainty_held_out with:
    input:
        models=lambda w: [f"{run}/model.pt" for run in uncertainty_members(w, HELD_OUT)],
        train_split=lambda w: f"{uncertainty_members(w, HELD_OUT)[0]}/split.parquet",
        store=STORE,
        split=SPLIT,
        features=features_input,
    output:
        objects=f"{HELD_OUT}/{UNCERTAIN}/objects.parquet",
        metrics=f"{HELD_OUT}/{UNCERTAIN}/metrics.json",
        reliability=f"{HELD_OUT}/{UNCERTAIN}/reliability.csv",
        coverage=f"{HELD_OUT}/{UNCERTAIN}/coverage.csv",
    log:
        f"{RESULTS}/logs/{{dataset}}/held_out/uncertainty/{UNCERTAIN}.log",
    benchmark:
        f"{RESULTS}/benchmarks/{{dataset}}/held_out/uncertainty/{UNCERTAIN}.tsv"
