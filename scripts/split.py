from astroflow.logs import logged
from astroflow.train.split import split

with logged(snakemake.log[0]):
    split(snakemake.input.store, snakemake.output[0], **snakemake.params.settings)
