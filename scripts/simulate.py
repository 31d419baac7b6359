from astroflow.logs import logged
from astroflow.sources.simulate import simulate_dataset

with logged(snakemake.log[0]):
    simulate_dataset(snakemake.output[0], snakemake.params.shards, snakemake.params.settings, snakemake.threads)
