rule store:
    input:
        stores=lambda wc: shard_outputs(wc, ".zarr"),
        qc=lambda wc: shard_outputs(wc, ".qc.parquet"),
    output:
        store=directory(STORE),
        qc=f"{RESULTS}/{{dataset}}/qc.parquet",
        summary=f"{RESULTS}/{{dataset}}/ingest_summary.json",
    log:
        f"{RESULTS}/logs/{{dataset}}/store.log",
    benchmark:
        f"{RESULTS}/benchmarks/{{dataset}}/store.tsv"
    conda:
        "../../envs/data.yaml"
    resources:
        mem_mb=16000,
        runtime=120,
    script:
        "../../scripts/store.py"
