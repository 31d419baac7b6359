from astroflow.datasets import DatasetSpec
from astroflow.ingest import ingest_shard
from astroflow.logs import logged

with logged(snakemake.log[0]):
    ingest_shard(DatasetSpec(**snakemake.params.dataset), int(snakemake.wildcards.shard), snakemake.output.store,
                 snakemake.output.qc)
