from astroflow.logs import logged
from astroflow.represent.materialize import materialize

with logged(snakemake.log[0]):
    materialize(snakemake.input[0], snakemake.wildcards.representation, snakemake.params.represent, snakemake.output[0])
