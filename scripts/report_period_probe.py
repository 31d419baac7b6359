from astroflow.logs import logged
from astroflow.report.embeddings import period_probe

with logged(snakemake.log[0]):
    period_probe(snakemake.input.table, snakemake.input.metrics, snakemake.output[0])
