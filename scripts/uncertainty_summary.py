from astroflow.logs import logged
from astroflow.uncertainty.summary import write_summary

with logged(snakemake.log[0]):
    write_summary(snakemake.input.metrics, snakemake.output.table, snakemake.output.markdown,
                  snakemake.input.objects)
