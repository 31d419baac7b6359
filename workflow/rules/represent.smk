rule represent:
    input:
        STORE,
    output:
        directory(f"{RESULTS}/{{dataset}}/represent/{{representation}}.zarr"),
    params:
        represent=REPRESENT_SETTINGS,
    log:
        f"{RESULTS}/logs/{{dataset}}/represent_{{representation}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/{{dataset}}/represent_{{representation}}.tsv"
    conda:
        "../../envs/represent.yaml"
    resources:
        mem_mb=8000,
        runtime=120,
    script:
        "../../scripts/represent.py"


rule represent_examples:
    input:
        STORE,
    output:
        report(
            f"{RESULTS}/{{dataset}}/figures/examples_{{representation}}.png",
            caption="../report/represent_examples.rst",
            category="Representations",
        ),
    params:
        represent=REPRESENT_SETTINGS,
    log:
        f"{RESULTS}/logs/{{dataset}}/examples_{{representation}}.log",
    conda:
        "../../envs/represent.yaml"
    resources:
        mem_mb=4000,
        runtime=20,
    script:
        "../../scripts/represent_examples.py"
