from astroflow.logs import logged
from astroflow.train.forest import features

with logged(snakemake.log[0]):
    features(snakemake.input.store, snakemake.output[0], threads=snakemake.threads)
