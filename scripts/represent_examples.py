from astroflow.logs import logged
from astroflow.report.inputs import example_inputs

with logged(snakemake.log[0]):
    example_inputs(snakemake.input[0], snakemake.wildcards.representation, snakemake.params.represent,
                   snakemake.output[0])
