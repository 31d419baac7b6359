from astroflow.logs import logged
from astroflow.train.pretrain import PretrainSettings, pretrain
from astroflow.train.streaming import StreamConfig

p, w = snakemake.params, snakemake.wildcards
with logged(snakemake.log[0]):
    pretrain(snakemake.input.store, snakemake.input.split, snakemake.output.model, snakemake.output.metrics, p.workdir,
             model=w.model, seed=int(w.seed), settings=PretrainSettings(**p.optimiser), **p.selection, **p.model,
             stream=StreamConfig(**p.stream), threads=snakemake.threads,
             features_path=snakemake.input.get("features") or None)
