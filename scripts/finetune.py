from astroflow.logs import logged
from astroflow.train.stages import finetune

w = snakemake.wildcards
with logged(snakemake.log[0]):
    finetune(snakemake.config, w.dataset, w.model, w.init, w.n_per_class, int(w.fold), int(w.seed),
             snakemake.input.store, snakemake.input.split, snakemake.params.pretrained or None, snakemake.output.model,
             snakemake.output.split, snakemake.output.metrics, snakemake.params.workdir, threads=snakemake.threads)
