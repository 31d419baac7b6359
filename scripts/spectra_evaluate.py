from astroflow.logs import logged
from astroflow.spectra.evaluate import evaluate

w = snakemake.wildcards
with logged(snakemake.log[0]):
    evaluate(snakemake.input.model, snakemake.input.store, snakemake.input.get("split"),
             snakemake.output.predictions, snakemake.output.metrics, snakemake.output.redshift,
             {"dataset": w.dataset, "scored_on": w.get("target", w.dataset)}, threads=snakemake.threads)
