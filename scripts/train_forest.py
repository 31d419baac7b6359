from astroflow.logs import logged
from astroflow.train.forest import fit

w = snakemake.wildcards
with logged(snakemake.log[0]):
    fit(snakemake.config, w.n_per_class, int(w.fold), int(w.seed), snakemake.input.features, snakemake.input.split,
        snakemake.output.model, snakemake.output.split, threads=snakemake.threads)
