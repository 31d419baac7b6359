from astroflow.ingest import simulate_dataset
from astroflow.logs import logged

with logged(snakemake.log[0]):
    simulate_dataset(snakemake.config, snakemake.wildcards.dataset, snakemake.output[0])
