rule split:
    input:
        store=STORE,
    output:
        SPLIT,
    params:
        settings=canonical({k: config["train"][k] for k in ("test_fraction", "split_seed")}),
    log:
        f"{RESULTS}/logs/{{dataset}}/split.log",
    conda:
        "../../envs/train.yaml"
    resources:
        mem_mb=4000,
        runtime=10,
    script:
        "../../scripts/split.py"
