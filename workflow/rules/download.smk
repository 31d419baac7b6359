rule download:
    output:
        directory(DOWNLOADED),
    params:
        survey=lambda wildcards: config["datasets"][wildcards.dataset]["survey"],
        offline=config["offline"],
    log:
        f"{RESULTS}/logs/{{dataset}}/download.log",
    benchmark:
        f"{RESULTS}/benchmarks/{{dataset}}/download.tsv"
    conda:
        "../../envs/data.yaml"
    resources:
        mem_mb=2000,
        runtime=240,
    script:
        "../../scripts/download.py"
