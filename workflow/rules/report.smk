rule compare:
    input:
        lambda wildcards: evaluation_targets(wildcards.dataset),
    output:
        table=report(f"{RESULTS}/{{dataset}}/report/comparison.csv", caption="../report/comparison.rst",
                     category="Classification"),
        markdown=f"{RESULTS}/{{dataset}}/report/comparison.md",
    log:
        f"{RESULTS}/logs/{{dataset}}/compare.log",
    conda:
        "../../envs/train.yaml"
    resources:
        mem_mb=2000,
        runtime=10,
    script:
        "../../scripts/compare.py"
