from astroflow.logs import logged
from astroflow.train.stages import make_split

with logged(snakemake.log[0]):
    make_split(snakemake.config, snakemake.input.store, snakemake.output[0])
