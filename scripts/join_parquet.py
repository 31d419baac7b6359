from astroflow.logs import logged
from astroflow.tables import join_parquet

with logged(snakemake.log[0]):
    join_parquet(list(snakemake.input), snakemake.output[0])
