rule compare:
    input:
        lambda wildcards: evaluation_targets(wildcards.dataset),
    output:
        table=report(f"{RESULTS}/{{dataset}}/report/comparison.csv", caption="../report/comparison.rst",
                     category="Classification"),
        markdown=f"{RESULTS}/{{dataset}}/report/comparison.md",
        metrics=f"{RESULTS}/{{dataset}}/metrics.json",  # the headline scores, for dvc metrics
    log:
        f"{RESULTS}/logs/{{dataset}}/compare.log",
    conda:
        "../../envs/train.yaml"
    resources:
        mem_mb=2000,
        runtime=10,
    script:
        "../../scripts/compare.py"


# The report's figures (astroflow.report): made from saved artifacts alone, one rule per figure family. A figure
# whose data the configured run does not make is not asked for (report_targets in common.smk), so none is empty.
REPORT = f"{RESULTS}/{{dataset}}/report"


rule report_data:
    input:
        store=STORE,
        qc=f"{RESULTS}/{{dataset}}/qc.parquet",
        summary=f"{RESULTS}/{{dataset}}/ingest_summary.json",
    output:
        table=report(f"{REPORT}/dataset_summary.csv", caption="../report/dataset_table.rst", category="Data"),
        summary=report(f"{REPORT}/dataset_summary.png", caption="../report/dataset_summary.rst", category="Data"),
        lightcurves=report(f"{REPORT}/lightcurves.png", caption="../report/lightcurves.rst", category="Data"),
    log:
        f"{RESULTS}/logs/{{dataset}}/report/data.log",
    conda:
        "../../envs/report.yaml"
    resources:
        mem_mb=4000,
        runtime=20,
    script:
        "../../scripts/report_data.py"


rule report_losses:
    input:
        lambda wildcards: [path for path, _, _ in training_runs(wildcards.dataset, wildcards.stage)],
    output:
        figure=report(f"{REPORT}/{{stage}}_loss.png", caption="../report/losses.rst", category="Training"),
        tables=directory(f"{RESULTS}/{{dataset}}/losses/{{stage}}"),  # per-run curves, for dvc plots
    params:
        labels=lambda wildcards: [label for _, label, _ in training_runs(wildcards.dataset, wildcards.stage)],
        panels=lambda wildcards: [panel for _, _, panel in training_runs(wildcards.dataset, wildcards.stage)],
    log:
        f"{RESULTS}/logs/{{dataset}}/report/{{stage}}_loss.log",
    wildcard_constraints:
        stage="pretrain|finetune",
    conda:
        "../../envs/report.yaml"
    resources:
        mem_mb=2000,
        runtime=10,
    script:
        "../../scripts/report_losses.py"


rule report_classification:
    input:
        lambda wildcards: evaluation_targets(wildcards.dataset),
    output:
        confusion=report(f"{REPORT}/confusion.png", caption="../report/confusion.rst", category="Classification"),
        per_class=report(f"{REPORT}/per_class_f1.png", caption="../report/per_class_f1.rst",
                         category="Classification"),
    log:
        f"{RESULTS}/logs/{{dataset}}/report/classification.log",
    conda:
        "../../envs/report.yaml"
    resources:
        mem_mb=2000,
        runtime=10,
    script:
        "../../scripts/report_classification.py"


rule report_f1_vs_labelled:
    input:
        lambda wildcards: evaluation_targets(wildcards.dataset),
    output:
        report(f"{REPORT}/f1_vs_labelled.png", caption="../report/f1_vs_labelled.rst", category="Classification"),
    log:
        f"{RESULTS}/logs/{{dataset}}/report/f1_vs_labelled.log",
    conda:
        "../../envs/report.yaml"
    resources:
        mem_mb=2000,
        runtime=10,
    script:
        "../../scripts/report_f1_vs_labelled.py"


rule report_embeddings:
    input:
        f"{RESULTS}/{{dataset}}/embeddings/{{model}}/s{{seed}}.zarr",
    output:
        report(f"{REPORT}/embeddings_{{model}}_s{{seed}}.png", caption="../report/embeddings.rst",
               category="Embeddings"),
    log:
        f"{RESULTS}/logs/{{dataset}}/report/embeddings_{{model}}_s{{seed}}.log",
    wildcard_constraints:
        model=ENCODERS,
    conda:
        "../../envs/report.yaml"
    threads: 2
    resources:
        mem_mb=4000,
        runtime=20,
    script:
        "../../scripts/report_embeddings.py"


rule report_probe:
    input:
        table=f"{RESULTS}/{{dataset}}/probe/{{model}}/s{{seed}}/objects.parquet",
        metrics=f"{RESULTS}/{{dataset}}/probe/{{model}}/s{{seed}}/metrics.json",
    output:
        report(f"{REPORT}/period_probe_{{model}}_s{{seed}}.png", caption="../report/period_probe.rst",
               category="Embeddings"),
    log:
        f"{RESULTS}/logs/{{dataset}}/report/period_probe_{{model}}_s{{seed}}.log",
    wildcard_constraints:
        model=ENCODERS,
    conda:
        "../../envs/report.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    script:
        "../../scripts/report_period_probe.py"


rule report_uncertainty:
    input:
        metrics=lambda wildcards: uncertainty_targets(wildcards.dataset),
        reliability=lambda wildcards: uncertainty_targets(wildcards.dataset, "reliability.csv"),
        coverage=lambda wildcards: uncertainty_targets(wildcards.dataset, "coverage.csv"),
        objects=lambda wildcards: uncertainty_targets(wildcards.dataset, "objects.parquet"),
    output:
        reliability=report(f"{REPORT}/uncertainty_reliability.png", caption="../report/uncertainty_reliability.rst",
                           category="Uncertainty"),
        risk_coverage=report(f"{REPORT}/uncertainty_risk_coverage.png",
                             caption="../report/uncertainty_risk_coverage.rst", category="Uncertainty"),
        scores=report(f"{REPORT}/uncertainty_scores.png", caption="../report/uncertainty_scores.rst",
                      category="Uncertainty"),
    log:
        f"{RESULTS}/logs/{{dataset}}/report/uncertainty.log",
    conda:
        "../../envs/report.yaml"
    resources:
        mem_mb=2000,
        runtime=10,
    script:
        "../../scripts/report_uncertainty.py"
