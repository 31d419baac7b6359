from astroflow.logs import logged
from astroflow.provenance import config_hash
from astroflow.stellar.model import TrainConfig, train

w = snakemake.wildcards
with logged(snakemake.log[0]):
    train(snakemake.input.samples, w.branch, int(w.group), TrainConfig(**snakemake.params.train), snakemake.output[0],
          config_hash=config_hash(snakemake.params.train), threads=snakemake.threads)
