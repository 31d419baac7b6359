from astroflow.logs import logged
from astroflow.train.stages import pretrain

with logged(snakemake.log[0]):
    pretrain(snakemake.config, snakemake.wildcards.dataset, snakemake.wildcards.model, int(snakemake.wildcards.seed),
             snakemake.input.store, snakemake.input.split, snakemake.output.model, snakemake.output.metrics,
             snakemake.params.workdir, threads=snakemake.threads)
