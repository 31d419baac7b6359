from astroflow.logs import logged
from astroflow.stellar.grids import CalibrationConfig, GridConfig, build

with logged(snakemake.log[0]):
    build(GridConfig(**snakemake.params.grid), snakemake.output.samples, snakemake.output.tables,
          snakemake.output.calibration, CalibrationConfig(**snakemake.params.calibration))
