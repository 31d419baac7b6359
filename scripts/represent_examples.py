from astroflow.logs import logged
from astroflow.represent.materialize import example_figure

with logged(snakemake.log[0]):
    example_figure(snakemake.input[0], snakemake.wildcards.representation, snakemake.params.represent,
                   snakemake.output[0])
