from astroflow.logs import logged
from astroflow.spectra.compare import compare

with logged(snakemake.log[0]):
    compare(snakemake.input, snakemake.output.table, snakemake.output.markdown)
