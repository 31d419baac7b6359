"""astroflow: simulate or download -> ingest -> store -> represent -> split -> features, pretrain -> encode,
finetune, forest -> evaluate -> predict -> report; one rule file per stage, included in that order."""

from pathlib import Path

from snakemake.utils import min_version, validate

from astroflow.configcheck import check_config

min_version("9.0")


configfile: "config/config.yaml"


check_config(config, Path(workflow.basedir) / "workflow/schemas/config.schema.yaml")
validate(config, "workflow/schemas/config.schema.yaml")


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/simulate.smk"
include: "workflow/rules/download.smk"
include: "workflow/rules/ingest.smk"
include: "workflow/rules/store.smk"
include: "workflow/rules/represent.smk"
include: "workflow/rules/split.smk"
include: "workflow/rules/features.smk"
include: "workflow/rules/pretrain.smk"
include: "workflow/rules/encode.smk"
include: "workflow/rules/probe.smk"
include: "workflow/rules/finetune.smk"
include: "workflow/rules/forest.smk"
include: "workflow/rules/evaluate.smk"
include: "workflow/rules/predict.smk"
include: "workflow/rules/uncertainty.smk"
include: "workflow/rules/report.smk"
include: "workflow/rules/stellar.smk"
include: "workflow/rules/spectra_common.smk"
include: "workflow/rules/spectra_data.smk"
include: "workflow/rules/spectra_models.smk"


rule all:
    input:
        all_targets(),
        STELLAR_TARGETS,
        spectra_targets(),
    default_target: True
