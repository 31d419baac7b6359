from astroflow.logs import logged
from astroflow.train.finetune import FinetuneSettings, finetune

p, w = snakemake.params, snakemake.wildcards
with logged(snakemake.log[0]):
    finetune(snakemake.input.store, snakemake.input.split, p.pretrained or None, snakemake.output.model,
             snakemake.output.split, snakemake.output.metrics, p.workdir, model=w.model, init=w.init.partition("@")[0],
             n_per_class=w.n_per_class, fold=int(w.fold), seed=int(w.seed), settings=FinetuneSettings(**p.optimiser),
             **p.selection, **p.model, threads=snakemake.threads, features_path=snakemake.input.get("features") or None,
             held_out_classes=p.get("held_out_classes", []))
