from astroflow.logs import logged
from astroflow.report.spectra import confusion_matrices, redshifts

with logged(snakemake.log[0]):
    if snakemake.wildcards.figure == "confusion":
        confusion_matrices(snakemake.input.metrics, snakemake.output[0])
    else:
        redshifts(snakemake.input.metrics, snakemake.input.redshift, snakemake.output[0])
