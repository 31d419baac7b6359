from astroflow.logs import logged
from astroflow.report.stellar import posterior_examples, versus

with logged(snakemake.log[0]):
    if snakemake.wildcards.figure == "stellar":
        versus(snakemake.input.holdback, snakemake.output[0], snakemake.input.get("tables"))
    else:
        posterior_examples(snakemake.input.examples, snakemake.output[0])
