from astroflow.logs import logged
from astroflow.report.embeddings import embedding_map

with logged(snakemake.log[0]):
    embedding_map(snakemake.input[0], snakemake.output[0])
