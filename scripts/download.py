from astroflow.ingest import download_dataset
from astroflow.logs import logged

with logged(snakemake.log[0]):
    download_dataset(snakemake.config, snakemake.wildcards.dataset, snakemake.output[0])
