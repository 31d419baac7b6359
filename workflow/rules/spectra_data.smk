# The spectra branch (astroflow.spectra): a spectral store per spectra data set (simulated, or SDSS / LAMOST / DESI
# files), and the train / validation / test split of the data set the models learn from.
rule spectra_store:
    output:
        store=directory(f"{SPECTRA_DIR}/store.zarr"),
        qc=f"{SPECTRA_DIR}/qc.parquet",
    params:
        source=spectra_source,
        store=canonical(SPECTRA["store"]),
    log:
        f"{RESULTS}/logs/{{dataset}}/spectra/store.log",
    benchmark:
        f"{RESULTS}/benchmarks/{{dataset}}/spectra/store.tsv"
    conda:
        "../../envs/train.yaml"
    resources:
        mem_mb=8000,
        runtime=60,
    script:
        "../../scripts/spectra_store.py"


rule spectra_split:
    input:
        f"{SPECTRA_DIR}/store.zarr",
    output:
        f"{SPECTRA_DIR}/split.parquet",
    params:
        split=canonical(SPECTRA["split"]),
    log:
        f"{RESULTS}/logs/{{dataset}}/spectra/split.log",
    conda:
        "../../envs/train.yaml"
    resources:
        mem_mb=4000,
        runtime=10,
    script:
        "../../scripts/spectra_split.py"
