from astroflow.logs import logged
from astroflow.uncertainty.summary import write_summary

with logged(snakemake.log[0]):
    write_summary(snakemake.input, snakemake.output.table, snakemake.output.markdown)
