from astroflow.features import write_features
from astroflow.logs import logged

with logged(snakemake.log[0]):
    write_features(snakemake.input.store, snakemake.output[0], threads=snakemake.threads,
                   memory_mb=snakemake.params.memory_mb, part=int(snakemake.wildcards.get("part", 0)),
                   parts=snakemake.params.parts)
