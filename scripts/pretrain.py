from astroflow.logs import logged
from astroflow.train.pretrain import Corpus, PretrainSettings, pretrain
from astroflow.train.streaming import StreamConfig

p, w, i = snakemake.params, snakemake.wildcards, snakemake.input
with logged(snakemake.log[0]):
    pretrain(i.store, i.split, snakemake.output.model, snakemake.output.metrics, p.workdir,
             model=w.model, seed=int(w.seed), settings=PretrainSettings(**p.optimiser), **p.selection, **p.model,
             stream=StreamConfig(**p.stream), threads=snakemake.threads, features_path=i.get("features") or None,
             dataset=w.dataset, corpora=[Corpus(n, i.get(f"corpus_{n}"), i.get(f"corpus_{n}_features"))
                                         for n in p.corpora], with_pool=p.with_pool)
