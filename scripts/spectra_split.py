from astroflow.logs import logged
from astroflow.spectra.train import split

with logged(snakemake.log[0]):
    split(snakemake.input[0], snakemake.output[0], **snakemake.params.split)
