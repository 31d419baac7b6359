# The spectra branch's models on one split: Spectromer (ViT on spectrum images) and the 1-D CNN (PyTorch, model.pt),
# the random forest and SVM baselines (scikit-learn, model.joblib); scored on the test objects and on the transfer
# data sets (e.g. real spectra), and compared in one table.
for _name, _ext, _models in (("spectra_train", "pt", SPECTRA_NETWORK_NAMES),
                             ("spectra_baseline", "joblib", SPECTRA_BASELINE_NAMES)):

    rule:
        name:
            _name
        input:
            store=f"{SPECTRA_DIR}/store.zarr",
            split=f"{SPECTRA_DIR}/split.parquet",
        output:
            model=f"{SPECTRA_DIR}/train/{SPECTRA_RUN}/model.{_ext}",
            metrics=f"{SPECTRA_DIR}/train/{SPECTRA_RUN}/training.csv",
        params:
            settings=spectra_train_settings,
            workdir=f"{SPECTRA_DIR}/checkpoints/{SPECTRA_RUN}",
        log:
            f"{RESULTS}/logs/{{dataset}}/spectra/train/{SPECTRA_RUN}.log",
        benchmark:
            f"{RESULTS}/benchmarks/{{dataset}}/spectra/train/{SPECTRA_RUN}.tsv"
        wildcard_constraints:
            model=_models,
        conda:
            "../../envs/train.yaml"
        threads: SPECTRA["threads"]
        resources:
            mem_mb=8000,
            runtime=120,
            gpu=1 if _ext == "pt" else 0,
        script:
            "../../scripts/spectra_train.py"


rule spectra_evaluate:
    input:
        model=spectra_model_file,
        store=f"{SPECTRA_DIR}/store.zarr",
        split=f"{SPECTRA_DIR}/split.parquet",
    output:
        predictions=f"{SPECTRA_DIR}/evaluate/{SPECTRA_RUN}/predictions.parquet",
        metrics=f"{SPECTRA_DIR}/evaluate/{SPECTRA_RUN}/metrics.json",
        redshift=f"{SPECTRA_DIR}/evaluate/{SPECTRA_RUN}/redshift.csv",
    log:
        f"{RESULTS}/logs/{{dataset}}/spectra/evaluate/{SPECTRA_RUN}.log",
    benchmark:
        f"{RESULTS}/benchmarks/{{dataset}}/spectra/evaluate/{SPECTRA_RUN}.tsv"
    conda:
        "../../envs/train.yaml"
    threads: SPECTRA["threads"]
    resources:
        mem_mb=8000,
        runtime=30,
        gpu=0,
    script:
        "../../scripts/spectra_evaluate.py"


rule spectra_transfer:
    input:
        model=spectra_model_file,
        store=f"{RESULTS}/{{target}}/spectra/store.zarr",
    output:
        predictions=f"{SPECTRA_DIR}/transfer/{{target}}/{SPECTRA_RUN}/predictions.parquet",
        metrics=f"{SPECTRA_DIR}/transfer/{{target}}/{SPECTRA_RUN}/metrics.json",
        redshift=f"{SPECTRA_DIR}/transfer/{{target}}/{SPECTRA_RUN}/redshift.csv",
    log:
        f"{RESULTS}/logs/{{dataset}}/spectra/transfer/{{target}}/{SPECTRA_RUN}.log",
    conda:
        "../../envs/train.yaml"
    threads: SPECTRA["threads"]
    resources:
        mem_mb=8000,
        runtime=30,
        gpu=0,
    script:
        "../../scripts/spectra_evaluate.py"


rule spectra_compare:
    input:
        lambda w: spectra_metrics(w.dataset, None if w.scored == "comparison" else w.scored.removeprefix("transfer_")),
    output:
        table=report(f"{SPECTRA_DIR}/report/{{scored}}.csv", caption="../report/spectra_comparison.rst",
                     category="Spectra"),
        markdown=f"{SPECTRA_DIR}/report/{{scored}}.md",
    wildcard_constraints:
        scored=r"comparison|transfer_[A-Za-z0-9_\-]+",
    log:
        f"{RESULTS}/logs/{{dataset}}/spectra/report_{{scored}}.log",
    conda:
        "../../envs/train.yaml"
    resources:
        mem_mb=2000,
        runtime=5,
    script:
        "../../scripts/spectra_compare.py"


# The report's spectra figures (astroflow.report.spectra), from the evaluations' saved outputs alone; the redshift
# figure only when redshift is regressed (spectra_figures).
rule report_spectra:
    input:
        metrics=lambda w: spectra_metrics(w.dataset),
        redshift=lambda w: spectra_metrics(w.dataset, output="redshift.csv") if w.figure == "redshift" else [],
    output:
        report(f"{SPECTRA_DIR}/report/{{figure}}.png", caption="../report/spectra_figures.rst", category="Spectra"),
    wildcard_constraints:
        figure="confusion|redshift",
    log:
        f"{RESULTS}/logs/{{dataset}}/spectra/report_{{figure}}.log",
    conda:
        "../../envs/report.yaml"
    resources:
        mem_mb=2000,
        runtime=5,
    script:
        "../../scripts/report_spectra.py"
