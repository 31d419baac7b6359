from astroflow.logs import logged
from astroflow.uncertainty.uncertainty import UncertaintySettings, uncertainty

i, o = snakemake.input, snakemake.output
with logged(snakemake.log[0]):
    uncertainty(snakemake.wildcards.method, list(i.models), i.store, i.split, i.train_split, o.objects, o.metrics,
                o.reliability, o.coverage, UncertaintySettings(**snakemake.params.settings), threads=snakemake.threads,
                features_path=i.get("features") or None)
