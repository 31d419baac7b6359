from astroflow.logs import logged
from astroflow.train.forest import ForestSettings, train_forest

p, w = snakemake.params, snakemake.wildcards
with logged(snakemake.log[0]):
    train_forest(snakemake.input.features, snakemake.input.split, snakemake.output.model, snakemake.output.split,
                 n_per_class=w.n_per_class, fold=int(w.fold), seed=int(w.seed), settings=ForestSettings(**p.forest),
                 **p.selection, threads=snakemake.threads)
