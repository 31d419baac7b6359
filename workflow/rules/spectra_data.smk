# The spectra branch (astroflow.spectra): a spectral store per spectra data set (simulated, or SDSS / LAMOST / DESI
# files), and the train / validation / test split of the data set the models learn from.
from astroflow.datasets import expand_path
from astroflow.spectra.models import BASELINES as SPECTRA_BASELINES, NETWORKS as SPECTRA_NETWORKS

SPECTRA = config["spectra"]
SPECTRA_DIR = f"{RESULTS}/{{dataset}}/spectra"


def spectra_source(wildcards):
    """The spectra_store stage's source: simulator settings, or a format and the files' path."""
    if wildcards.dataset not in SPECTRA["datasets"]:
        raise ConfigError("spectra.datasets", f"no spectra data set {wildcards.dataset!r}")
    d = SPECTRA["datasets"][wildcards.dataset]
    if "simulate" in d:
        return {"simulate": d["simulate"]}
    if "format" not in d or "path" not in d:
        raise ConfigError(f"spectra.datasets.{wildcards.dataset}", "give simulate, or format and path")
    path = expand_path(d["path"], config, f"spectra.datasets.{wildcards.dataset}.path")
    return {"fmt": d["format"], "path": str(path), "on_bad_file": d.get("on_bad_file", "raise")}


rule spectra_store:
    output:
        store=directory(f"{SPECTRA_DIR}/store.zarr"),
        qc=f"{SPECTRA_DIR}/qc.parquet",
    params:
        source=spectra_source,
        store=SPECTRA["store"],
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
        split=SPECTRA["split"],
    log:
        f"{RESULTS}/logs/{{dataset}}/spectra/split.log",
    conda:
        "../../envs/train.yaml"
    resources:
        mem_mb=4000,
        runtime=10,
    script:
        "../../scripts/spectra_split.py"
