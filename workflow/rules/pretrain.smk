import json

PRETRAIN_RUN = config["train"]["pretrain"]
PRETRAIN_GPUS, PRETRAIN_NODES = PRETRAIN_RUN["gpus"], PRETRAIN_RUN["nodes"]
PRETRAIN_PARAMS = {
    "workdir": f"{RESULTS}/{{dataset}}/checkpoints/pretrain/{{model}}{PRETRAIN_TAG}/s{{seed}}",
    "optimiser": canonical({k: v for k, v in PRETRAIN_RUN.items() if k not in ("datasets", "gpus", "nodes")}),
    "corpora": pretrain_corpora,
    "with_pool": pretrain_with_pool,
    "selection": selection(),
    "model": lambda wildcards: model_settings(wildcards, "pretrain"),
    "stream": canonical(config["train"]["stream"]),
}
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


def pretrain_job(wildcards, input, output, threads):
    """The pretrain job (astroflow.train.pretrain.pretrain_job's arguments) as JSON, for each torchrun process."""
    params = {k: v(wildcards) if callable(v) else v.format(**wildcards) if isinstance(v, str) else v
              for k, v in PRETRAIN_PARAMS.items()}
    return json.dumps({"input": dict(input.items()), "output": dict(output.items()), "params": params,
                       "wildcards": dict(wildcards.items()), "threads": threads}, sort_keys=True)


def torchrun():
    """The launcher of one pretraining job on PRETRAIN_GPUS GPUs of each of PRETRAIN_NODES nodes: on one node
    torchrun alone; on several, one torchrun per node through srun (inside the job's Slurm allocation), meeting
    at the first node."""
    if PRETRAIN_NODES == 1:
        return f"torchrun --standalone --nproc_per_node {PRETRAIN_GPUS}"
    first = "$(scontrol show hostnames $SLURM_JOB_NODELIST | head -n 1)"
    return (f"srun --ntasks-per-node 1 torchrun --nnodes {PRETRAIN_NODES} --nproc_per_node {PRETRAIN_GPUS} "
            f"--rdzv_backend c10d --rdzv_id $SLURM_JOB_ID --rdzv_endpoint {first}:29500")


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
