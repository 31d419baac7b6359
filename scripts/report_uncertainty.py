from astroflow.logs import logged
from astroflow.report.uncertainty import reliability_diagrams, risk_coverage, score_histograms

i, o = snakemake.input, snakemake.output
with logged(snakemake.log[0]):
    reliability_diagrams(i.metrics, i.reliability, o.reliability)
    risk_coverage(i.metrics, i.coverage, o.risk_coverage)
    score_histograms(i.metrics, i.objects, o.scores)
