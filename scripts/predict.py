from astroflow.logs import logged
from astroflow.train.predict import predict_store
from astroflow.train.streaming import StreamConfig

with logged(snakemake.log[0]):
    predict_store(snakemake.input.model, snakemake.input.store, snakemake.output[0], threads=snakemake.threads,
                  stream=StreamConfig(**snakemake.params.stream),
                  features_path=snakemake.input.get("features") or None,
                  part=int(snakemake.wildcards.get("part", 0)), parts=snakemake.params.parts)
