rule simulate:
    output:
        directory(f"{RESULTS}/{{dataset}}/raw/simulated"),
    log:
        f"{RESULTS}/logs/{{dataset}}/simulate.log",
    benchmark:
        f"{RESULTS}/benchmarks/{{dataset}}/simulate.tsv"
    conda:
        "../../envs/data.yaml"
    resources:
        mem_mb=4000,
        runtime=30,
    script:
        "../../scripts/simulate.py"


rule download:
    output:
        directory(f"{RESULTS}/{{dataset}}/raw/downloaded"),
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
