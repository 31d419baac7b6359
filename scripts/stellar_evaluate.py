from astroflow.logs import logged
from astroflow.stellar.evaluate import holdback
from astroflow.stellar.posterior import PriorConfig

with logged(snakemake.log[0]):
    holdback(snakemake.input.models, snakemake.input.tables, PriorConfig(**snakemake.params.posterior),
             snakemake.input.samples, snakemake.input.calibration_points, snakemake.output.predictions,
             snakemake.output.metrics, snakemake.output.calibration, snakemake.params.grid,
             threads=snakemake.threads)
