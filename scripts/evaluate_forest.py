from astroflow.logs import logged
from astroflow.train.forest import evaluate_forest

with logged(snakemake.log[0]):
    evaluate_forest(snakemake.input.model, snakemake.input.features, snakemake.input.split, snakemake.input.store,
                    snakemake.output.predictions, snakemake.output.metrics, threads=snakemake.threads)
