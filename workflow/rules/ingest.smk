rule ingest:
    input:
        raw_input,
    output:
        store=directory(f"{RESULTS}/{{dataset}}/shards/{{shard}}.zarr"),
        qc=f"{RESULTS}/{{dataset}}/shards/{{shard}}.qc.parquet",
    log:
        f"{RESULTS}/logs/{{dataset}}/ingest_{{shard}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/{{dataset}}/ingest_{{shard}}.tsv"
    conda:
        "../../envs/data.yaml"
    resources:
        mem_mb=8000,
        runtime=120,
    script:
        "../../scripts/ingest.py"
