# StelNet stellar masses and ages (astroflow.stellar), a branch beside the light curves:
# grid (training samples, HR-diagram domains, time in each phase) -> train (per branch and member group) ->
# evaluate (held-back tracks; the model error calibrated on them) and benchmark (stars with independent masses and
# ages, when the folder is there).
# Members of an ensemble are trained vectorised in one job per group; stellar.train.groups = members gives one job
# per member (a cluster trains them in parallel). A member is the same network whatever its group.
from astroflow.datasets import canonical, expand_path
from astroflow.stellar.grids import BRANCHES

STELLAR_CONFIG = config["stellar"]
STELLAR = f"{RESULTS}/stellar/{STELLAR_CONFIG['grid']['name']}"
STELLAR_LOGS = f"{RESULTS}/logs/stellar/{STELLAR_CONFIG['grid']['name']}"
STELLAR_BENCH = f"{RESULTS}/benchmarks/stellar/{STELLAR_CONFIG['grid']['name']}"
STELLAR_MODELS = [f"{STELLAR}/models/{b}/g{g}.pt" for b in BRANCHES for g in range(STELLAR_CONFIG["train"]["groups"])]


# The benchmark tables are scored when their folder is configured and present (stellar.benchmarks).
STELLAR_BENCHMARKS = (None if STELLAR_CONFIG["benchmarks"] is None
                      else expand_path(STELLAR_CONFIG["benchmarks"], config, "stellar.benchmarks"))
if STELLAR_BENCHMARKS is not None and not STELLAR_BENCHMARKS.is_dir():
    STELLAR_BENCHMARKS = None
# The stellar branch's results in the default target (rule all), none when stellar.enabled is false.
STELLAR_TARGETS = [f"{STELLAR}/evaluate/metrics.json", f"{STELLAR}/figures/stellar.png"] if STELLAR_CONFIG["enabled"] else []
if STELLAR_CONFIG["enabled"] and STELLAR_BENCHMARKS is not None:
    STELLAR_TARGETS += [f"{STELLAR}/benchmarks/metrics.json", f"{STELLAR}/figures/posteriors.png"]
# The figures' data: held-back tracks and, when they are scored, the benchmark tables (stellar.png); the benchmark
# stars' posterior draws (posteriors.png, made only then).
STELLAR_FIGURE_DATA = {"stellar": {"holdback": f"{STELLAR}/evaluate/holdback.parquet"},
                       "posteriors": {"examples": f"{STELLAR}/benchmarks/posterior_examples.parquet"}}
if STELLAR_BENCHMARKS is not None:
    STELLAR_FIGURE_DATA["stellar"]["tables"] = f"{STELLAR}/benchmarks/tables"


wildcard_constraints:
    branch="|".join(BRANCHES),
    group=r"\d+",


rule stellar_grid:
    output:
        samples=f"{STELLAR}/grid/samples.parquet",
        tables=f"{STELLAR}/grid/tables.npz",
        calibration=f"{STELLAR}/grid/calibration_points.parquet",
    params:
        grid=canonical(STELLAR_CONFIG["grid"]),
        calibration=canonical(STELLAR_CONFIG["calibration"]),
    log:
        f"{STELLAR_LOGS}/grid.log",
    benchmark:
        f"{STELLAR_BENCH}/grid.tsv"
    conda:
        "../../envs/stellar.yaml"
    resources:
        mem_mb=2000,
        runtime=10,
    script:
        "../../scripts/stellar_grid.py"


rule stellar_train:
    input:
        samples=f"{STELLAR}/grid/samples.parquet",
    output:
        f"{STELLAR}/models/{{branch}}/g{{group}}.pt",
    params:
        train=canonical(STELLAR_CONFIG["train"]),
    log:
        f"{STELLAR_LOGS}/train_{{branch}}_g{{group}}.log",
    benchmark:
        f"{STELLAR_BENCH}/train_{{branch}}_g{{group}}.tsv"
    conda:
        "../../envs/stellar.yaml"
    threads: STELLAR_CONFIG["threads"]
    resources:
        mem_mb=2000,
        runtime=120,
        gpu=0,
    script:
        "../../scripts/stellar_train.py"


rule stellar_evaluate:
    input:
        models=STELLAR_MODELS,
        tables=f"{STELLAR}/grid/tables.npz",
        samples=f"{STELLAR}/grid/samples.parquet",
        calibration_points=f"{STELLAR}/grid/calibration_points.parquet",
    output:
        predictions=f"{STELLAR}/evaluate/holdback.parquet",
        metrics=f"{STELLAR}/evaluate/metrics.json",
        calibration=f"{STELLAR}/evaluate/calibration.parquet",
    params:
        posterior=canonical(STELLAR_CONFIG["posterior"]),
        grid=STELLAR_CONFIG["grid"]["name"],
    log:
        f"{STELLAR_LOGS}/evaluate.log",
    benchmark:
        f"{STELLAR_BENCH}/evaluate.tsv"
    conda:
        "../../envs/stellar.yaml"
    threads: STELLAR_CONFIG["threads"]
    resources:
        mem_mb=4000,
        runtime=30,
    script:
        "../../scripts/stellar_evaluate.py"


rule stellar_benchmark:
    input:
        models=STELLAR_MODELS,
        tables=f"{STELLAR}/grid/tables.npz",
        calibration=f"{STELLAR}/evaluate/calibration.parquet",
        data=str(STELLAR_BENCHMARKS or "missing-stellar-benchmarks"),
    output:
        predictions=directory(f"{STELLAR}/benchmarks/tables"),
        examples=f"{STELLAR}/benchmarks/posterior_examples.parquet",
        metrics=f"{STELLAR}/benchmarks/metrics.json",
    params:
        posterior=canonical(STELLAR_CONFIG["posterior"]),
        input_errors=canonical(STELLAR_CONFIG["input_errors"]),
    log:
        f"{STELLAR_LOGS}/benchmark.log",
    benchmark:
        f"{STELLAR_BENCH}/benchmark.tsv"
    conda:
        "../../envs/stellar.yaml"
    threads: STELLAR_CONFIG["threads"]
    resources:
        mem_mb=4000,
        runtime=30,
    script:
        "../../scripts/stellar_benchmark.py"


rule stellar_figures:
    input:
        unpack(lambda wildcards: STELLAR_FIGURE_DATA[wildcards.figure]),
    output:
        report(f"{STELLAR}/figures/{{figure}}.png", caption="../report/stellar.rst", category="Stellar parameters"),
    wildcard_constraints:
        figure="stellar|posteriors",
    log:
        f"{STELLAR_LOGS}/figures_{{figure}}.log",
    conda:
        "../../envs/report.yaml"
    resources:
        mem_mb=2000,
        runtime=10,
    script:
        "../../scripts/stellar_figures.py"
