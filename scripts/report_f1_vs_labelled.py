from astroflow.logs import logged
from astroflow.report.classification import f1_vs_labelled

with logged(snakemake.log[0]):
    f1_vs_labelled(snakemake.input, snakemake.output[0])
