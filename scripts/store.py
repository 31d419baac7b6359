from astroflow.logs import logged
from astroflow.store import build_store

with logged(snakemake.log[0]):
    build_store(snakemake.wildcards.dataset, snakemake.input.stores, snakemake.input.qc, snakemake.output.store,
                snakemake.output.qc, snakemake.output.summary)
