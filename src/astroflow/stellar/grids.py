"""Evolutionary grids as training data: load an isochrone grid, split it at the ZAMS, sample it evenly in mass and
age, hold back whole tracks, and tabulate what the posterior needs (where each branch covers the HR diagram, and
how long a star of each mass spends in each branch)."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from astroflow.errors import ConfigError, InputError

BRANCHES = ("pre", "post")
# Grids of lachesis-grids whose phase labels mark the ZAMS: file, and the phase codes of each branch.
# MIST: -1 pre-MS, 0 MS, 2 RGB, 3 core He burning (4 and later: AGB and beyond, left out);
# PARSEC: 0 pre-MS, 1 MS, 2 subgiant, 3 RGB, 4-6 core He burning (labels interpolated, so floored).
GRIDS = {
    "mist": ("mist_v2.5_vvcrit0.4.h5", {"pre": (-1,), "post": (0, 2, 3)}),
    "parsec": ("parsec_v1.25.h5", {"pre": (0,), "post": (1, 2, 3, 4, 5, 6)}),
}
INPUTS = ("log_teff", "log_l")  # plus "feh" when the grid is used at more than one metallicity
OUTPUTS = ("log_age", "log_mass")
# The HR-diagram coverage of a branch: occupied cells of this size (dex), closed over small gaps between isochrones.
DOMAIN_STEP = {"log_teff": 0.005, "log_l": 0.05}
DOMAIN_CLOSE = 3  # cells
CELLS = 40  # bins per axis of the (log mass, log age) plane that training samples are spread evenly over


@dataclass
class GridConfig:
    """Which grid, which part of it, and how it is sampled (schema section stellar.grid)."""

    name: str = "mist"
    feh: list[float] = field(default_factory=lambda: [0.0])
    mass_range: list[float] = field(default_factory=lambda: [0.1, 20.0])  # solar masses
    log_age_range: list[float] = field(default_factory=lambda: [5.0, 10.15])  # log10 years
    samples: int = 4000  # training points per branch
    holdback_every: int = 10  # every n-th track (mass band) is held back for validation
    track_width: float = 0.02  # dex in initial mass: the points of one band form one held-back track
    seed: int = 0

    def __post_init__(self):
        if self.name not in GRIDS:
            raise ConfigError("stellar.grid.name", f"{self.name!r} is not one of {sorted(GRIDS)}")

    @property
    def inputs(self) -> tuple[str, ...]:
        return INPUTS + ("feh",) if len(self.feh) > 1 else INPUTS


@dataclass
class CalibrationConfig:
    """The grid tracks the posterior's model error is measured on (schema section stellar.calibration): the
    held-back tracks of each grid listed (the trained one always), at the trained metallicities and, when [Fe/H] is
    not an input, at each offset from them too."""

    grids: list[str] = field(default_factory=lambda: ["mist", "parsec"])  # other grids: model physics unknown
    feh_offsets: list[float] = field(default_factory=lambda: [-0.25, 0.25])  # the star's [Fe/H] unknown
    points: int = 1000  # per grid, [Fe/H] and branch

    def __post_init__(self):
        unknown = [g for g in self.grids if g not in GRIDS]
        if unknown:
            raise ConfigError("stellar.calibration.grids", f"{unknown} not among {sorted(GRIDS)}")

    def sets(self, cfg: GridConfig) -> list[tuple[str, float]]:
        """(grid, [Fe/H]) of every set of calibration tracks."""
        fehs = cfg.feh if len(cfg.feh) > 1 else [cfg.feh[0] + d for d in (0.0, *self.feh_offsets)]
        return [(g, float(z)) for g in dict.fromkeys([cfg.name, *self.grids]) for z in sorted(set(fehs))]


def grid_file(name: str) -> Path:
    from lachesis_grids import grid_path

    return grid_path(GRIDS[name][0])


def load_grid(name: str, feh: list[float]) -> pd.DataFrame:
    """Every isochrone point of the grid at the metallicities ``feh``: log_teff, log_l, log_age, log_mass (initial),
    phase, feh, branch ("pre", "post" or "" for phases left out)."""
    import h5py

    path = grid_file(name)
    with h5py.File(path, "r") as f:
        columns = [str(c) for c in f.attrs["columns"]]
        fehs, ages, lengths = f["feh_values"][:], f["age_values"][:], f["lengths"][:]
        starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
        missing = [z for z in feh if not np.isclose(fehs, z).any()]
        if missing:
            raise ConfigError("stellar.grid.feh", f"{missing} not in grid {name} ({path.name}: {fehs.tolist()})")
        values = f["values"]
        parts = []
        for z in feh:
            i = int(np.argmin(np.abs(fehs - z)))
            lo, hi = starts[i * len(ages)], starts[(i + 1) * len(ages) - 1] + lengths[(i + 1) * len(ages) - 1]
            block = pd.DataFrame(values[lo:hi], columns=columns)
            block["feh"] = np.float32(z)
            parts.append(block)
    grid = pd.concat(parts, ignore_index=True).dropna(subset=["log_Teff", "log_L", "age", "initial_mass", "phase"])
    phase = np.floor(grid["phase"].to_numpy() + 1e-6).astype(int)
    branch = np.full(len(grid), "", dtype=object)
    for b, codes in GRIDS[name][1].items():
        branch[np.isin(phase, codes)] = b
    return pd.DataFrame({"log_teff": grid["log_Teff"].to_numpy(np.float64), "log_l": grid["log_L"].to_numpy(np.float64),
                         "log_age": grid["age"].to_numpy(np.float64),
                         "log_mass": np.log10(grid["initial_mass"].to_numpy(np.float64)), "phase": phase,
                         "feh": grid["feh"].to_numpy(np.float64), "branch": branch})


def select(grid: pd.DataFrame, cfg: GridConfig) -> pd.DataFrame:
    """The points of either branch within the configured mass and age ranges, with their track (mass band) and
    whether that track is held back."""
    lo, hi = np.log10(cfg.mass_range)
    keep = ((grid["branch"] != "") & grid["log_mass"].between(lo, hi)
            & grid["log_age"].between(*cfg.log_age_range))
    points = grid[keep].reset_index(drop=True)
    track = np.floor((points["log_mass"] - lo) / cfg.track_width).astype(int)
    points["track"] = track
    points["held_back"] = track % cfg.holdback_every == cfg.holdback_every // 2
    return points


def even_sample(points: pd.DataFrame, n: int, rng: np.random.Generator) -> pd.DataFrame:
    """``n`` points drawn without replacement, each with weight 1 / (points in its (feh, log mass, log age) cell), so
    the sample spreads evenly over mass and age rather than crowding where isochrones are dense."""
    if len(points) <= n:
        return points
    cells = [points["feh"].to_numpy()]
    for col in ("log_mass", "log_age"):
        v = points[col].to_numpy()
        cells.append(np.minimum(((v - v.min()) / (np.ptp(v) + 1e-12) * CELLS).astype(int), CELLS - 1))
    _, cell, counts = np.unique(np.stack(cells, axis=1), axis=0, return_inverse=True, return_counts=True)
    weight = 1.0 / counts[cell.ravel()]
    keys = np.log(rng.random(len(points))) / weight  # weighted sampling without replacement (Efraimidis-Spirakis)
    return points.iloc[np.sort(np.argsort(-keys)[:n])]


def training_samples(points: pd.DataFrame, cfg: GridConfig) -> pd.DataFrame:
    """Per branch: ``samples`` training points from the tracks kept, and as many again from the held-back tracks."""
    rng = np.random.default_rng(cfg.seed)
    parts = []
    for b in BRANCHES:
        for held, n in ((False, cfg.samples), (True, max(cfg.samples // cfg.holdback_every, 1))):
            part = points[(points["branch"] == b) & (points["held_back"] == held)]
            if part.empty:
                raise ConfigError("stellar.grid", f"grid {cfg.name} has no {b}-main-sequence points "
                                  f"{'on held-back tracks ' if held else ''}in mass range {cfg.mass_range} and "
                                  f"log age range {cfg.log_age_range}")
            parts.append(even_sample(part, n, rng))
    return pd.concat(parts, ignore_index=True)


def domain(points: pd.DataFrame, fehs: list[float]) -> dict[str, np.ndarray]:
    """Where each branch covers the HR diagram: a boolean map per (branch, feh) over log Teff x log L cells."""
    from scipy import ndimage

    axes = {}
    for col in INPUTS:
        step = DOMAIN_STEP[col]
        lo = np.floor(points[col].min() / step) * step - DOMAIN_CLOSE * step
        hi = np.ceil(points[col].max() / step) * step + DOMAIN_CLOSE * step
        axes[col] = np.arange(lo, hi + step / 2, step)
    maps = np.zeros((len(BRANCHES), len(fehs), len(axes["log_teff"]) - 1, len(axes["log_l"]) - 1), dtype=bool)
    structure = np.ones((2 * DOMAIN_CLOSE + 1,) * 2, dtype=bool)
    for i, b in enumerate(BRANCHES):
        for j, z in enumerate(fehs):
            part = points[(points["branch"] == b) & np.isclose(points["feh"], z)]
            counts, _, _ = np.histogram2d(part["log_teff"], part["log_l"], bins=[axes["log_teff"], axes["log_l"]])
            maps[i, j] = ndimage.binary_fill_holes(ndimage.binary_closing(counts > 0, structure))
    return {"domain": maps, "domain_log_teff": axes["log_teff"], "domain_log_l": axes["log_l"],
            "domain_feh": np.asarray(fehs, dtype=np.float64)}


def durations(points: pd.DataFrame, fehs: list[float], n_mass: int = 200) -> dict[str, np.ndarray]:
    """Years a star of each initial mass spends in each branch within the grid's age range: the sum over isochrones
    of the age step each one stands for, where the star's mass lies in the branch's mass interval of that isochrone."""
    log_mass = np.linspace(points["log_mass"].min(), points["log_mass"].max(), n_mass)
    table = np.zeros((len(BRANCHES), len(fehs), n_mass))
    for j, z in enumerate(fehs):
        at = points[np.isclose(points["feh"], z)]
        ages = np.sort(at["log_age"].unique())
        edges = np.concatenate([[ages[0]], (ages[1:] + ages[:-1]) / 2, [ages[-1]]])
        step = 10 ** edges[1:] - 10 ** edges[:-1]
        span = at.groupby(["branch", "log_age"])["log_mass"].agg(["min", "max"])
        for i, b in enumerate(BRANCHES):
            for k, age in enumerate(ages):
                if (b, age) in span.index:
                    lo, hi = span.loc[(b, age)]
                    table[i, j] += step[k] * ((log_mass >= lo) & (log_mass <= hi))
    return {"duration": table, "duration_log_mass": log_mass}


def calibration_points(cfg: GridConfig, calibration: CalibrationConfig, trained: pd.DataFrame) -> pd.DataFrame:
    """Points of the held-back tracks (mass bands never trained on) of every calibration set, up to ``points`` per set
    and branch spread evenly over mass and age: grid, inputs, true log age and log mass, branch and track. The
    trained grid's metallicities come from its ``trained`` points (select); a metallicity a grid lacks is left out
    (logged)."""
    from astroflow.logs import log

    rng = np.random.default_rng([cfg.seed, 1])
    parts = []
    for name, feh in calibration.sets(cfg):
        if name == cfg.name and np.isclose(cfg.feh, feh).any():
            points = trained[np.isclose(trained["feh"], feh)]
        else:
            try:
                points = select(load_grid(name, [feh]), cfg)
            except ConfigError as err:
                log.info("calibration: %s", err)
                continue
        for b in BRANCHES:
            part = even_sample(points[(points["branch"] == b) & points["held_back"]], calibration.points, rng)
            parts.append(part.assign(grid=name))
    columns = [*INPUTS, "feh", *OUTPUTS, "branch", "track", "grid"]
    return pd.concat(parts, ignore_index=True)[columns]


def build(cfg: GridConfig, samples_path: str | Path, tables_path: str | Path, calibration_path: str | Path | None = None,
          calibration: CalibrationConfig | None = None) -> pd.DataFrame:
    """The stellar_grid job: training samples (parquet), the posterior's tables (npz: domain and durations) and,
    with ``calibration_path``, the calibration sets' held-back track points (parquet)."""
    from astroflow.logs import log

    grid = load_grid(cfg.name, cfg.feh)
    points = select(grid, cfg)
    samples = training_samples(points, cfg)
    for b in BRANCHES:
        part = samples[samples["branch"] == b]
        log.info("%s-MS: %d grid points, %d training and %d held-back samples on %d held-back tracks", b,
                 int((points["branch"] == b).sum()), int((~part["held_back"]).sum()), int(part["held_back"].sum()),
                 part.loc[part["held_back"], "track"].nunique())
    Path(samples_path).parent.mkdir(parents=True, exist_ok=True)
    samples.to_parquet(samples_path, index=False)
    tables = {**domain(points, cfg.feh), **durations(points, cfg.feh)}
    np.savez(tables_path, **tables)
    if calibration_path is not None:
        held = calibration_points(cfg, calibration or CalibrationConfig(), points)
        held.to_parquet(calibration_path, index=False)
        log.info("calibration: %d held-back track points of %s", len(held),
                 held.groupby(["grid", "feh"]).size().to_dict())
    return samples


def read_samples(path: str | Path, branch: str) -> pd.DataFrame:
    samples = pd.read_parquet(path)
    part = samples[samples["branch"] == branch]
    if part.empty:
        raise InputError(path, f"no {branch}-main-sequence samples")
    return part
