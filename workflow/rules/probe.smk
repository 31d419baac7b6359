rule probe:
    input:
        embeddings=f"{RESULTS}/{{dataset}}/embeddings/{{model}}/s{{seed}}.zarr",
        store=STORE,
        split=SPLIT,
        features=FEATURES,
    output:
        metrics=f"{RESULTS}/{{dataset}}/probe/{{model}}/s{{seed}}/metrics.json",
        table=f"{RESULTS}/{{dataset}}/probe/{{model}}/s{{seed}}/objects.parquet",
    log:
        f"{RESULTS}/logs/{{dataset}}/probe/{{model}}_s{{seed}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/{{dataset}}/probe/{{model}}_s{{seed}}.tsv"
    wildcard_constraints:
        model=ENCODERS,
    conda:
        "../../envs/train.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    script:
        "../../scripts/probe.py"
