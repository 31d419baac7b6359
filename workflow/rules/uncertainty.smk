# Predictive uncertainty of fine-tuned classifiers (astroflow.uncertainty): every configured method scores every
# labelled test object; a summary table per data set. Ensemble members are fine-tuning runs of other seeds, so a
# cluster trains them in parallel.
rule uncertainty:
    input:
        models=lambda w: [f"{run}/model.pt" for run in uncertainty_members(w)],
        train_split=lambda w: f"{uncertainty_members(w)[0]}/split.parquet",
        store=STORE,
        split=SPLIT,
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
        lambda wildcards: uncertainty_targets(wildcards.dataset),
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
