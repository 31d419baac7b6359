rule features:
    input:
        store=STORE,
    output:
        FEATURES,
    params:
        memory_mb=config["train"]["stream"]["memory_mb"],
    log:
        f"{RESULTS}/logs/{{dataset}}/features.log",
    benchmark:
        f"{RESULTS}/benchmarks/{{dataset}}/features.tsv"
    conda:
        "../../envs/train.yaml"
    threads: config["train"]["threads"]
    resources:
        mem_mb=8000,
        runtime=240,
    script:
        "../../scripts/features.py"
