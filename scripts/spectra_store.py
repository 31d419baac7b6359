from astroflow.logs import logged
from astroflow.spectra.store import build

with logged(snakemake.log[0]):
    build(snakemake.output.store, snakemake.output.qc, snakemake.params.store, **snakemake.params.source)
