from astroflow.logs import logged
from astroflow.stellar.evaluate import benchmarks
from astroflow.stellar.posterior import PriorConfig
from astroflow.stellar.stars import InputErrors

with logged(snakemake.log[0]):
    benchmarks(snakemake.input.models, snakemake.input.tables, PriorConfig(**snakemake.params.posterior),
               snakemake.input.data, snakemake.output.predictions, snakemake.output.metrics, snakemake.output.examples,
               snakemake.input.calibration, InputErrors(**snakemake.params.input_errors), threads=snakemake.threads)
