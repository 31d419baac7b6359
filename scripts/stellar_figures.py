from astroflow.logs import logged
from astroflow.stellar.figures import plot

with logged(snakemake.log[0]):
    plot(snakemake.input.holdback, snakemake.output[0], snakemake.input.get("tables"), snakemake.input.get("examples"))
