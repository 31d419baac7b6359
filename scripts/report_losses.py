from astroflow.logs import logged
from astroflow.report.training import loss_curves

TITLES = {"pretrain": "pretraining (masked reconstruction)", "finetune": "fine-tuning and training of classifiers"}
with logged(snakemake.log[0]):
    loss_curves(snakemake.input, snakemake.params.labels, snakemake.params.panels, snakemake.output.figure,
                TITLES[snakemake.wildcards.stage], snakemake.output.tables)
