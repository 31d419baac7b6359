from astroflow.logs import logged
from astroflow.train.evaluate import evaluate

with logged(snakemake.log[0]):
    evaluate(snakemake.input.model, snakemake.input.store, snakemake.input.split, snakemake.output.predictions,
             snakemake.output.metrics, threads=snakemake.threads, features_path=snakemake.input.get("features") or None)
