rule simulate:
    output:
        directory(SIMULATED),
    params:
        settings=simulate_settings,
        shards=lambda wildcards: spec(wildcards).shards,
    log:
        f"{RESULTS}/logs/{{dataset}}/simulate.log",
    benchmark:
        f"{RESULTS}/benchmarks/{{dataset}}/simulate.tsv"
    conda:
        "../../envs/data.yaml"
    threads: workflow.cores
    resources:
        mem_mb=4000,
        runtime=30,
    script:
        "../../scripts/simulate.py"
