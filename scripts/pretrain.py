from astroflow.logs import logged
from astroflow.train.pretrain import pretrain_job

with logged(snakemake.log[0]):
    pretrain_job(dict(snakemake.input.items()), dict(snakemake.output.items()), dict(snakemake.params.items()),
                 dict(snakemake.wildcards.items()), snakemake.threads)
