rule features:
    input:
        store=STORE,
    output:
        FEATURES if PARTS == 1 else temp(FEATURES.replace(".parquet", f"{PART}.parquet")),
    params:
        memory_mb=config["train"]["stream"]["memory_mb"],
        parts=PARTS,
    log:
        f"{RESULTS}/logs/{{dataset}}/features{PART}.log",
    benchmark:
        f"{RESULTS}/benchmarks/{{dataset}}/features{PART}.tsv"
    conda:
        "../../envs/train.yaml"
    threads: config["train"]["threads"]
    resources:
        mem_mb=8000,
        runtime=240,
    script:
        "../../scripts/features.py"


if PARTS > 1:

    rule features_join:
        input:
            expand(FEATURES.replace(".parquet", ".part{part}.parquet"), part=range(PARTS), allow_missing=True),
        output:
            FEATURES,
        log:
            f"{RESULTS}/logs/{{dataset}}/features_join.log",
        conda:
            "../../envs/data.yaml"
        resources:
            mem_mb=2000,
            runtime=30,
        script:
            "../../scripts/join_parquet.py"
