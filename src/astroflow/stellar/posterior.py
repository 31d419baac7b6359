"""Per-star posteriors: both branches' ensembles, mixed by a prior, with the input errors sampled.

A star at (log Teff, log L) may be contracting towards the main sequence or have left the ZAMS; the two networks
give two answers. Each draw (an input sampled within the errors, run through one ensemble member of each branch)
takes ONE of the two answers, with probability proportional to the branch's prior weight at its predicted mass:
IMF(mass) x years a star of that mass spends in the branch. The draws are a sample of the mixture, so a star
between the branches gets a two-peaked posterior, never the (meaningless) weighted average of the two answers.
A branch that does not cover the drawn input (outside its HR-diagram domain) gets weight zero; a star whose measured
point is outside both domains is flagged and given no values rather than extrapolated.

A few ensemble members agree more closely than their answers are right, and the grid itself is one model of stars
among several. So each draw also carries a calibrated model error: N(0, sd^2) around the network's answer, with sd
measured on tracks the networks never saw (Calibration), and the summaries are quantiles of that mixture of normals.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from astroflow.errors import InputError
from astroflow.stellar import model as nets
from astroflow.stellar.grids import BRANCHES, OUTPUTS

QUANTILES = (16, 50, 84)
ERRORS = [f"error_{o}" for o in OUTPUTS]  # columns of a calibration table
NEIGHBOURS = 100  # calibration points a model error is measured over (its 68th percentile: +-5 points in 100)
LEVEL = 0.68  # the share of errors within one sd of a normal


@dataclass
class PriorConfig:
    """The mixture prior and posterior sampling (schema section stellar.posterior)."""

    imf_slopes: list[float] = field(default_factory=lambda: [0.3, 1.3, 2.3])  # dN/dM ~ M^-slope per segment
    imf_breaks: list[float] = field(default_factory=lambda: [0.08, 0.5])  # solar masses between the segments
    draws: int = 50  # input-error draws per star (each through every ensemble member)
    seed: int = 0

    def __post_init__(self):
        if len(self.imf_slopes) != len(self.imf_breaks) + 1 or list(self.imf_breaks) != sorted(self.imf_breaks):
            from astroflow.errors import ConfigError

            raise ConfigError("stellar.posterior.imf_breaks", f"{self.imf_breaks} must be increasing, one fewer than "
                              f"imf_slopes {self.imf_slopes}")


def imf(mass: np.ndarray, slopes: list[float], breaks: list[float], mass_range: tuple[float, float]) -> np.ndarray:
    """Broken power-law mass function, continuous at the breaks, normalised to integrate to 1 over ``mass_range``
    (zero outside it)."""
    mass = np.asarray(mass, dtype=np.float64)
    edges = [mass_range[0], *[b for b in breaks if mass_range[0] < b < mass_range[1]], mass_range[1]]
    coef = [1.0]  # c_k m^-a_k, c_{k+1} = c_k * b^(a_{k+1} - a_k) keeps the function continuous at break b
    for b, a0, a1 in zip(breaks, slopes[:-1], slopes[1:]):
        coef.append(coef[-1] * b ** (a1 - a0))

    def segment(m):
        return np.searchsorted(np.asarray(breaks), m, side="right")

    total = 0.0
    for lo, hi in itertools.pairwise(edges):
        k = segment((lo + hi) / 2)
        a = slopes[k]
        total += coef[k] * (np.log(hi / lo) if a == 1 else (hi ** (1 - a) - lo ** (1 - a)) / (1 - a))
    k = segment(mass)
    inside = (mass >= mass_range[0]) & (mass <= mass_range[1])
    return np.where(inside, np.asarray(coef)[k] * mass ** -np.asarray(slopes)[k] / total, 0.0)


class Calibration:
    """Each branch's model error at any input, per output: the 68th percentile of the errors (model_errors) of the
    NEIGHBOURS calibration points nearest to it in the network's min-max scaled inputs, so an interval is as wide
    where the grid's tracks are hard to tell apart (near the ZAMS, in age) as it is narrow where they are not."""

    def __init__(self, errors: pd.DataFrame, nets_by_branch: dict):
        self.parts = {}
        for b in BRANCHES:
            card = nets_by_branch[b][1]
            part = errors[errors["branch"] == b]
            if part.empty:
                raise InputError("calibration", f"no calibration points of the {b} branch")
            self.parts[b] = (self._scaled(part[card.inputs].to_numpy(np.float64), card),
                             part[ERRORS].to_numpy(np.float64), card)

    @staticmethod
    def _scaled(x: np.ndarray, card) -> np.ndarray:
        return nets.scale(np.nan_to_num(x), np.asarray(card.x_min), np.asarray(card.x_max)).astype(np.float32)

    def sd(self, x: np.ndarray, chunk: int = 256) -> np.ndarray:
        """[branches, points, outputs]: the model error at inputs ``x`` [points, inputs] (nearest points found by
        brute force, a few thousand per branch: cheaper than importing a k-d tree into every job)."""
        out = np.zeros((len(BRANCHES), len(x), len(OUTPUTS)))
        for i, b in enumerate(BRANCHES):
            points, errors, card = self.parts[b]
            k = min(NEIGHBOURS, len(errors))
            scaled = self._scaled(x, card)
            for start in range(0, len(x), chunk):
                distance = ((scaled[start:start + chunk, None, :] - points[None]) ** 2).sum(axis=2)
                near = np.argpartition(distance, k - 1, axis=1)[:, :k]
                out[i, start:start + chunk] = np.quantile(errors[near], LEVEL, axis=1)
        return out


class StelNet:
    """The two branches' ensembles with the posterior's tables (HR-diagram domains, time in each branch), and the
    calibrated model error when a calibration table (model_errors) is given."""

    def __init__(self, model_paths: list[str | Path], tables_path: str | Path, prior: PriorConfig | None = None,
                 calibration: str | Path | pd.DataFrame | None = None):
        parts: dict[str, list] = {b: [] for b in BRANCHES}
        for path in model_paths:
            net, card = nets.load(path)
            parts[card.branch].append((net, card))
        missing = [b for b in BRANCHES if not parts[b]]
        if missing:
            raise InputError(", ".join(map(str, model_paths)), f"no ensemble of the {missing} branch(es)")
        self.nets = {b: nets.merge(parts[b]) for b in BRANCHES}
        sizes = {len(card.members) for _, card in self.nets.values()}
        if len(sizes) != 1:
            raise InputError(", ".join(map(str, model_paths)), f"branches have different ensemble sizes {sizes}")
        self.inputs = self.nets["post"][1].inputs
        with np.load(tables_path) as t:
            self.tables = {k: t[k] for k in t.files}
        self.prior = prior or PriorConfig()
        log_mass = self.tables["duration_log_mass"]
        self.mass_range = (10 ** log_mass[0], 10 ** log_mass[-1])
        if isinstance(calibration, str | Path):
            calibration = pd.read_parquet(calibration)
        self.calibration = None if calibration is None else Calibration(calibration, self.nets)

    def model_errors(self, points: pd.DataFrame) -> pd.DataFrame:
        """Calibration table: the held-back track points (grids.calibration_points) inside their branch's domain,
        with the error of the branch's ensemble answer beyond its own spread, sqrt(max(r^2 - s^2, 0)) per output (r:
        truth minus the members' mean, s: their standard deviation), so that spread and model error make one sd."""
        parts = []
        for i, b in enumerate(BRANCHES):
            net, card = self.nets[b]
            part = points[points["branch"] == b]
            part = part[self.in_domain(part[self.inputs].to_numpy(np.float64))[i]]
            pred = nets.predict(net, card, part[card.inputs].to_numpy(np.float64))
            r = part[list(OUTPUTS)].to_numpy(np.float64) - pred.mean(axis=0)
            error = np.sqrt(np.maximum(r ** 2 - pred.var(axis=0), 0.0))
            parts.append(part.assign(**{name: error[:, j] for j, name in enumerate(ERRORS)}))
        return pd.concat(parts, ignore_index=True)

    @property
    def members(self) -> int:
        return len(self.nets["post"][1].members)

    def _feh_index(self, feh: np.ndarray) -> np.ndarray:
        grid = self.tables["domain_feh"]
        return np.argmin(np.abs(np.asarray(feh)[:, None] - grid[None, :]), axis=1)

    def in_domain(self, x: np.ndarray) -> np.ndarray:
        """[branches, points]: whether each branch's grid covers each input row (log_teff, log_l[, feh])."""
        t, lum = self.tables["domain_log_teff"], self.tables["domain_log_l"]
        i = np.searchsorted(t, x[:, 0], side="right") - 1
        j = np.searchsorted(lum, x[:, 1], side="right") - 1
        ok = (i >= 0) & (i < len(t) - 1) & (j >= 0) & (j < len(lum) - 1) & np.isfinite(x).all(axis=1)
        z = self._feh_index(x[:, 2]) if x.shape[1] > 2 else np.zeros(len(x), dtype=int)
        maps = self.tables["domain"]
        return np.stack([ok & maps[b, z, np.clip(i, 0, len(t) - 2), np.clip(j, 0, len(lum) - 2)]
                         for b in range(len(BRANCHES))])

    def weight(self, branch: int, log_mass: np.ndarray, feh_index: np.ndarray) -> np.ndarray:
        """Prior weight of a branch at the predicted masses: IMF(mass) x years spent in the branch at that mass."""
        table, grid = self.tables["duration"][branch], self.tables["duration_log_mass"]
        years = np.zeros_like(log_mass)
        for z in np.unique(feh_index):
            at = feh_index == z
            years[..., at] = np.interp(log_mass[..., at], grid, table[z], left=0.0, right=0.0)
        p = self.prior
        return imf(10 ** log_mass, p.imf_slopes, p.imf_breaks, self.mass_range) * years

    def branch_predictions(self, x: np.ndarray, cover: np.ndarray) -> np.ndarray:
        """[branches, members, points, (log_age, log_mass)]: each branch's answers where it covers the input
        (``cover`` [branches, points]; NaN elsewhere, where its answer is never used)."""
        out = np.full((len(BRANCHES), self.members, len(x), len(OUTPUTS)), np.nan)
        for i, b in enumerate(BRANCHES):
            if cover[i].any():
                out[i][:, cover[i]] = nets.predict(*self.nets[b], x[cover[i]])
        return out

    def sample(self, x: np.ndarray, sigma: np.ndarray, rng: np.random.Generator) -> dict[str, np.ndarray]:
        """Posterior draws of stars ``x`` [stars, inputs] with errors ``sigma`` (same shape, in the same log units):
        log_age and log_mass [stars, members * draws] (the networks' answers, NaN where no branch covers the drawn
        input), the model error (sd) of each draw's answer (log_age_sd, log_mass_sd: the calibration's for its branch
        at the star, 0 without one), the branch each draw took (0 pre, 1 post) and the probability of the pre-MS
        branch per draw."""
        n, d = len(x), self.prior.draws
        drawn = x[:, None, :] + sigma[:, None, :] * rng.standard_normal((n, d, x.shape[1]))
        drawn[:, 0] = x  # the first draw is the measured point itself
        flat = drawn.reshape(n * d, -1)
        cover = self.in_domain(flat)  # [2, n*d]
        pred = self.branch_predictions(flat, cover)  # [2, M, n*d, 2]
        feh_index = self._feh_index(flat[:, 2]) if flat.shape[1] > 2 else np.zeros(len(flat), dtype=int)
        w = np.stack([np.where(cover[b], self.weight(b, np.nan_to_num(pred[b, :, :, 1]), feh_index), 0.0)
                      for b in range(len(BRANCHES))])
        total = w.sum(axis=0)  # [M, n*d]
        valid = total > 0
        p_pre = np.where(valid, w[0] / np.where(valid, total, 1), np.nan)
        take_post = rng.random(p_pre.shape) >= p_pre
        chosen = np.where(take_post[..., None], pred[1], pred[0])
        chosen[~valid] = np.nan

        def per_star(a):  # [M, n*d] -> [n, M*d]
            return a.reshape(a.shape[0], n, d).transpose(1, 0, 2).reshape(n, -1)

        post = per_star(take_post)
        sd = self.calibration.sd(x) if self.calibration is not None else np.zeros((len(BRANCHES), n, len(OUTPUTS)))
        errors = {f"{o}_sd": np.where(post, sd[1, :, i, None], sd[0, :, i, None]) for i, o in enumerate(OUTPUTS)}
        return {"log_age": per_star(chosen[..., 0]), "log_mass": per_star(chosen[..., 1]), **errors,
                "branch": per_star(np.where(valid, take_post.astype(float), np.nan)), "p_pre": per_star(p_pre),
                "pred": pred, "cover": cover}

    def posterior(self, x: np.ndarray, sigma: np.ndarray, seed: int | None = None,
                  chunk: int = 500) -> pd.DataFrame:
        """Summaries per star: median (of the networks' answers) and 16th/84th percentiles (of the posterior with the
        model error) of log mass and log age, mass (Msun) and age (yr) medians, the probability of being pre-main-sequence, each branch's ensemble median, and a flag for stars
        outside the grid (their values left empty)."""
        rng = np.random.default_rng(self.prior.seed if seed is None else seed)
        rows = []
        for start in range(0, len(x), chunk):
            xs, ss = x[start:start + chunk], sigma[start:start + chunk]
            s = self.sample(xs, ss, rng)
            out = {}
            for name in ("log_mass", "log_age"):
                for level, values in zip(QUANTILES, finite_percentiles(s[name], QUANTILES)):
                    out[f"{name}_p{level}"] = values
                if self.calibration is not None:  # the interval with the model error; the median stays the networks'
                    interval = mixture_quantiles(s[name], s[f"{name}_sd"], (QUANTILES[0], QUANTILES[-1]))
                    out[f"{name}_p{QUANTILES[0]}"], out[f"{name}_p{QUANTILES[-1]}"] = interval
            out["p_pre"] = _finite_rows(s["p_pre"], np.nanmean)
            out["in_grid_fraction"] = np.isfinite(s["log_mass"]).mean(axis=1)
            d = self.prior.draws
            measured = np.arange(len(xs)) * d  # the first draw of each star is its measured point
            for b, name in enumerate(BRANCHES):
                out[f"log_mass_{name}"] = np.median(s["pred"][b, :, measured, 1], axis=1)
                out[f"log_age_{name}"] = np.median(s["pred"][b, :, measured, 0], axis=1)
                out[f"in_{name}_grid"] = s["cover"][b, measured]
            rows.append(pd.DataFrame(out))
        table = pd.concat(rows, ignore_index=True) if rows else pd.DataFrame()
        outside = ~(table["in_pre_grid"] | table["in_post_grid"]) if len(table) else pd.Series(dtype=bool)
        table["outside_grid"] = outside
        value_columns = [c for c in table.columns if c.startswith(("log_mass", "log_age", "p_pre"))]
        table.loc[outside, value_columns] = np.nan
        for b in BRANCHES:  # a branch's own answer only where it covers the star
            table.loc[~table[f"in_{b}_grid"], [f"log_mass_{b}", f"log_age_{b}"]] = np.nan
        table["mass"] = 10 ** table["log_mass_p50"]
        table["age"] = 10 ** table["log_age_p50"]
        return table



def mixture_quantiles(draws: np.ndarray, sd: np.ndarray, percents, steps: int = 16) -> np.ndarray:
    """[percents, rows]: percentiles of each row's mixture of normals N(draw, sd^2) over its finite draws (NaN for a
    row with none), by bisection on the mixture's CDF to 2^-steps of its bracket (about 1e-4 dex): the calibrated
    posterior's interval without Monte Carlo noise."""
    import torch

    def ndtr(z):  # the standard normal CDF (torch's: scipy.special would add its import to every job)
        return torch.special.ndtr(torch.from_numpy(z)).numpy()

    ok = np.isfinite(draws)
    count = ok.sum(axis=1)
    centre = np.where(ok, draws, 0.0)
    width = np.where(ok, np.maximum(sd, 1e-12), 1.0)
    pad = 8 * np.max(np.where(ok, sd, 0.0), axis=1, initial=0.0) + 1e-9
    low = np.nanmin(np.where(ok, draws, np.inf), axis=1) - pad
    high = np.nanmax(np.where(ok, draws, -np.inf), axis=1) + pad
    out = np.full((len(percents), len(draws)), np.nan)
    rows = count > 0
    for i, q in enumerate(np.asarray(percents, dtype=np.float64) / 100):
        a, b = low[rows], high[rows]
        for _ in range(steps):
            mid = (a + b) / 2
            cdf = (ndtr((mid[:, None] - centre[rows]) / width[rows]) * ok[rows]).sum(axis=1) / count[rows]
            a, b = np.where(cdf < q, mid, a), np.where(cdf < q, b, mid)
        out[i, rows] = (a + b) / 2
    return out


def finite_percentiles(values: np.ndarray, percents) -> np.ndarray:
    """[percents, rows]: percentiles of each row's finite values, interpolated linearly as numpy's (NaN for a row with
    none); one sort of all rows rather than numpy's row-by-row NaN handling, which took a third of the posterior."""
    ordered = np.sort(np.where(np.isfinite(values), values, np.nan), axis=1)  # NaN last
    count = np.isfinite(values).sum(axis=1)
    position = np.maximum(count - 1, 0)[None, :] * (np.asarray(percents, dtype=np.float64)[:, None] / 100)
    below = np.floor(position).astype(int)
    above = np.minimum(below + 1, np.maximum(count - 1, 0)[None, :])
    rows = np.arange(len(values))[None, :]
    low, high = ordered[rows, below], ordered[rows, above]
    out = low + (high - low) * (position - below)
    return np.where(count[None, :] > 0, out, np.nan)


def _finite_rows(values: np.ndarray, stat, *args) -> np.ndarray:
    """``stat`` over each row's finite values (a NaN-aware numpy reduction); NaN for a row with none."""
    ok = np.isfinite(values).any(axis=1)
    shape = np.shape(stat(np.zeros((1, 1)), *args, axis=1))
    out = np.full(shape[:-1] + (len(values),), np.nan)
    if ok.any():
        out[..., ok] = stat(values[ok], *args, axis=1)
    return out
