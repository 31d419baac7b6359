PRETRAIN_INPUT = {"store": STORE, "split": SPLIT, "features": features_input}
PRETRAIN_OUTPUT = {"model": f"{PRETRAINED}/model.pt", "metrics": f"{PRETRAINED}/metrics.csv"}
PRETRAIN_LOG = f"{RESULTS}/logs/{{dataset}}/pretrain/{{model}}{PRETRAIN_TAG}_s{{seed}}.log"
PRETRAIN_BENCHMARK = f"{RESULTS}/benchmarks/{{dataset}}/pretrain/{{model}}{PRETRAIN_TAG}_s{{seed}}.tsv"


rule pretrain:
    input:
        unpack(pretrain_corpus_inputs),
        **PRETRAIN_INPUT,
    output:
        **PRETRAIN_OUTPUT,
    params:
        **PRETRAIN_PARAMS,
    log:
        PRETRAIN_LOG,
    benchmark:
        PRETRAIN_BENCHMARK
    wildcard_constraints:
        model=ENCODERS,
    conda:
        "../../envs/train.yaml"
    threads: config["train"]["threads"]
    resources:
        mem_mb=16000,
        runtime=720,
        gpu=1,
    script:
        "../../scripts/pretrain.py"


# One pretraining job on several GPUs (train.pretrain.gpus / nodes above 1): the same job, data parallel under
# torchrun (astroflow.train.distributed); it replaces the rule above.
if PRETRAIN_GPUS * PRETRAIN_NODES > 1:

    ruleorder: pretrain_torchrun > pretrain

    rule pretrain_torchrun:
        input:
            unpack(pretrain_corpus_inputs),
            **PRETRAIN_INPUT,
        output:
            **PRETRAIN_OUTPUT,
        params:
            job=pretrain_job,
            launch=torchrun(),
        log:
            PRETRAIN_LOG,
        benchmark:
            PRETRAIN_BENCHMARK
        wildcard_constraints:
            model=ENCODERS,
        conda:
            "../../envs/train.yaml"
        threads: config["train"]["threads"]
        resources:
            mem_mb=16000 * PRETRAIN_GPUS,
            runtime=720,
            gpu=PRETRAIN_GPUS,
            nodes=PRETRAIN_NODES,
        shell:
            "{params.launch} -m astroflow.train.pretrain {params.job:q} > {log} 2>&1"
