from astroflow.logs import logged
from astroflow.report.classification import confusion_matrices, per_class_f1

with logged(snakemake.log[0]):
    confusion_matrices(snakemake.input, snakemake.output.confusion)
    per_class_f1(snakemake.input, snakemake.output.per_class)
