from astroflow.logs import logged
from astroflow.sources.registry import fetch_survey

with logged(snakemake.log[0]):
    fetch_survey(snakemake.params.survey, snakemake.output[0], offline=snakemake.params.offline)
