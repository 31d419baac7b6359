from astroflow.logs import logged
from astroflow.report.compare import write_comparison

with logged(snakemake.log[0]):
    write_comparison(snakemake.input, snakemake.output.table, snakemake.output.markdown, snakemake.output.metrics)
