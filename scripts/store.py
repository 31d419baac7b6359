from astroflow.ingest import build_store
from astroflow.logs import logged

with logged(snakemake.log[0]):
    build_store(snakemake.config, snakemake.wildcards.dataset, snakemake.input.stores, snakemake.input.qc,
                snakemake.output.store, snakemake.output.qc, snakemake.output.summary)
