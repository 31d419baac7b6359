from astroflow.ingest import ingest_shard
from astroflow.logs import logged

with logged(snakemake.log[0]):
    ingest_shard(snakemake.config, snakemake.wildcards.dataset, int(snakemake.wildcards.shard),
                 snakemake.output.store, snakemake.output.qc)
