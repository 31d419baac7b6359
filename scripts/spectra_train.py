from astroflow.logs import logged
from astroflow.spectra.train import train

w = snakemake.wildcards
with logged(snakemake.log[0]):
    train(w.model, int(w.seed), snakemake.input.store, snakemake.input.split, snakemake.output.model,
          snakemake.output.metrics, snakemake.params.workdir, snakemake.params.settings, threads=snakemake.threads)
