from astroflow.logs import logged
from astroflow.report.data import dataset_summary, example_lightcurves

with logged(snakemake.log[0]):
    dataset_summary(snakemake.input.store, snakemake.input.qc, snakemake.input.summary, snakemake.output.table,
                    snakemake.output.summary)
    example_lightcurves(snakemake.input.store, snakemake.output.lightcurves)
