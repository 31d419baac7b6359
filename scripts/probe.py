from astroflow.logs import logged
from astroflow.train.probe import period_probe

with logged(snakemake.log[0]):
    period_probe(snakemake.input.embeddings, snakemake.input.store, snakemake.input.split, snakemake.input.features,
                 snakemake.output.metrics, snakemake.output.table, seed=int(snakemake.wildcards.seed))
