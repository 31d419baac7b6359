"""How well masses and ages come out: on the grid's held-back tracks, and on stars with independent estimates
(the StelNet transfer-learning benchmark tables: Gaia FGK benchmark stars, the TESS sample of Godoy-Rivera et al.
2021, David & Hillenbrand 2015, the Orion Nebula Cluster and NGC 6530)."""
from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from astroflow.errors import InputError
from astroflow.logs import log
from astroflow.stellar.grids import BRANCHES, OUTPUTS, read_samples
from astroflow.stellar.posterior import Calibration, PriorConfig, StelNet
from astroflow.stellar.stars import InputErrors, estimate, model_inputs, read_table, write_table

LN10 = np.log(10)


def _half_width(low, high):
    """Half the width in dex of an interval given linearly (an asymmetric error's log form)."""
    return (np.log10(high) - np.log10(low)) / 2


def _fgk(t):  # Lum and its error are already log10 L; the truths' errors are the table's (from M_err and age_err)
    return {"log_teff_err": t["Teff_err"] / (t["Teff"] * LN10), "log_lum_err": t["Lum_err"],
            "true_log_mass_err": t["logMass_err"], "true_log_age_err": t["logAge_err"]}


def _tess(t):  # asymmetric errors: the input's their mean, the truth's its log interval (logMass_err is not: negative)
    return {"log_teff_err": (t["E_Teff"] + t["e_Teff"]) / 2 / (t["Teff"] * LN10),
            "log_lum_err": (t["E_Luminosity"] + t["e_Luminosity"]) / 2 / (t["Luminosity"] * LN10),
            "true_log_mass_err": _half_width(t["Mass"] - t["e_Mass"], t["Mass"] + t["E_Mass"]),
            "true_log_age_err": _half_width(t["Age"] - t["e_Age"], t["Age"] + t["E_Age"])}


def _dh(t):  # the truths' errors from their 68% intervals (logAge_err is one side of it, the shorter)
    return {"log_teff_err": t["e_Teff"] / (t["Teff"] * LN10),
            "log_lum_err": (t["lum_percentile_upper"] - t["lum_percentile_lower"]) / 2 / (t["lum_val"] * LN10),
            "true_log_mass_err": _half_width(t["M68lo"], t["M68up"]),
            "true_log_age_err": _half_width(t["Age68lo"], t["Age68up"])}


def _no_errors(t):  # neither inputs' nor truths' errors: the stars get the default input errors (InputErrors)
    return {}


# name: (file under the benchmark folder, the branch its stars are on, the errors of its inputs and truths in dex)
BENCHMARKS: dict[str, tuple[str, str, Callable]] = {
    "fgk": ("Data/postZAMS/FGK.csv", "post", _fgk),
    "tess_gr": ("Data/postZAMS/G-R.csv", "post", _tess),
    "david_hillenbrand": ("Data/postZAMS/DH.csv", "post", _dh),
    "onc": ("Data/preZAMS/ONC.csv", "pre", _no_errors),
    "ngc6530": ("Data/preZAMS/ngc6530.csv", "pre", _no_errors),
}


def within_truth_error(p16, p50, p84, truth, truth_err) -> np.ndarray:
    """Whether each truth lies within the 16-84% interval of the posterior convolved with the truth's own error:
    |truth - median| within the quadrature sum of the truth's error and the interval's half on the truth's side (a
    normal's interval exactly; an asymmetric one's by each side). A zero or missing truth error gives the plain test,
    p16 <= truth <= p84."""
    side = np.where(truth >= p50, p84 - p50, p50 - p16)
    return np.abs(truth - p50) <= np.hypot(side, np.nan_to_num(truth_err))


def scores(pred: pd.DataFrame, true_log_age, true_log_mass, truth_errors: pd.DataFrame | None = None) -> dict:
    """Median absolute error (dex) and 16-84% coverage of log mass and log age, over stars with a truth and a
    prediction; with the truths' errors (true_log_mass_err, true_log_age_err), also the coverage of the interval
    widened by them (within_truth_error)."""
    out = {}
    for name, truth in (("log_mass", np.asarray(true_log_mass, float)), ("log_age", np.asarray(true_log_age, float))):
        ok = np.isfinite(truth) & np.isfinite(pred[f"{name}_p50"].to_numpy())
        p16, p50, p84 = (pred[f"{name}_p{q}"].to_numpy()[ok] for q in (16, 50, 84))
        out[name] = {"median_abs_error": float(np.median(np.abs(p50 - truth[ok]))) if ok.any() else None,
                     "coverage_16_84": float(((p16 <= truth[ok]) & (truth[ok] <= p84)).mean()) if ok.any() else None,
                     "n": int(ok.sum())}
        if truth_errors is not None:
            err = truth_errors[f"true_{name}_err"].to_numpy(float)[ok]
            inside = within_truth_error(p16, p50, p84, truth[ok], err)
            out[name]["coverage_16_84_with_truth_error"] = float(inside.mean()) if ok.any() else None
            out[name]["truth_error_median"] = float(np.nanmedian(err)) if np.isfinite(err).any() else None
    return out


def branch_scores(pred: pd.DataFrame, branch: str, true_log_age, true_log_mass) -> dict:
    """Median absolute error of one branch's own ensemble answer (no mixture)."""
    out = {}
    for name, truth in (("log_mass", np.asarray(true_log_mass, float)), ("log_age", np.asarray(true_log_age, float))):
        p = pred[f"{name}_{branch}"].to_numpy()
        ok = np.isfinite(truth) & np.isfinite(p)
        out[name] = float(np.median(np.abs(p[ok] - truth[ok]))) if ok.any() else None
    return out


def holdback(model_paths: list[str], tables_path: str | Path, prior: PriorConfig, samples_path: str | Path,
             calibration_points_path: str | Path, predictions_path: str | Path, metrics_path: str | Path,
             calibration_path: str | Path, grid: str, threads: int = 1) -> dict:
    """The stellar_evaluate job: the calibration table (the model errors on the held-back tracks of every calibration
    set, StelNet.model_errors), and every held-back track point of the training grid (``grid``) through its own
    branch's ensemble and through the calibrated mixture (no input errors), scored against the grid's age and mass.
    Scores are cross-fitted (_cross_fitted). The held-back tracks are at the trained metallicity of the trained grid,
    while the calibration also holds other grids and metallicities, the errors of real stars; so they are also scored
    with the calibration of the trained grid's own tracks alone (mixture_own_grid), a check of its method."""
    torch.set_num_threads(threads)
    net = StelNet(model_paths, tables_path, prior)
    errors = net.model_errors(pd.read_parquet(calibration_points_path))
    write_table(errors, calibration_path)
    metrics = {}
    parts = []
    for branch in BRANCHES:
        held = read_samples(samples_path, branch)
        own_grid = errors[(errors["grid"] == grid) & errors["feh"].isin(held["feh"].unique())]
        held = held[held["held_back"]].reset_index(drop=True)
        x = held[net.inputs].to_numpy(np.float64)
        net.calibration = None
        plain = net.posterior(x, np.zeros_like(x))  # the ensemble's spread alone, for comparison
        own, _ = _cross_fitted(net, x, held["track"], own_grid, branch)
        pred, sd = _cross_fitted(net, x, held["track"], errors, branch)
        pred.insert(0, "true_log_age", held["log_age"].to_numpy())
        pred.insert(0, "true_log_mass", held["log_mass"].to_numpy())
        pred.insert(0, "track", held["track"].to_numpy())
        pred.insert(0, "branch", branch)
        metrics[branch] = {"mixture": scores(pred, held["log_age"], held["log_mass"]),
                           "ensemble_only": scores(plain, held["log_age"], held["log_mass"]),
                           "mixture_own_grid": scores(own, held["log_age"], held["log_mass"]),
                           "own_branch": branch_scores(pred, branch, held["log_age"], held["log_mass"]),
                           "tracks": int(held["track"].nunique()), "points": len(held),
                           "model_error_median": dict(zip(OUTPUTS, np.median(sd, axis=0).tolist())),
                           "mean_p_pre": float(np.nanmean(pred["p_pre"]))}
        log.info("held-back %s-MS tracks: %s", branch, metrics[branch])
        parts.append(pred)
    write_table(pd.concat(parts, ignore_index=True), predictions_path)
    _write_json(metrics_path, {"members": net.members, "draws": net.prior.draws, **metrics})
    return metrics


def _cross_fitted(net: StelNet, x: np.ndarray, tracks: pd.Series, errors: pd.DataFrame,
                  branch: str) -> tuple[pd.DataFrame, np.ndarray]:
    """The calibrated posterior of held-back points ``x`` on ``tracks`` and their branch's model error [points,
    outputs], alternate tracks calibrating each other, so that no point's own track sets its interval."""
    ids = np.unique(np.concatenate([errors["track"], tracks]))
    fold = np.searchsorted(ids, tracks) % 2
    pred, sd = pd.DataFrame(), np.zeros((len(x), len(OUTPUTS)))
    for f in (0, 1):
        net.calibration = Calibration(errors[np.searchsorted(ids, errors["track"]) % 2 != f], net.nets)
        part = net.posterior(x[fold == f], np.zeros_like(x[fold == f]))
        pred = pd.concat([pred, part.set_index(np.flatnonzero(fold == f))])
        sd[fold == f] = net.calibration.sd(x[fold == f])[BRANCHES.index(branch)]
    return pred.sort_index(), sd


def benchmark_table(root: str | Path, name: str) -> tuple[pd.DataFrame, str]:
    """A benchmark table as stars (log_teff, log_lum, true_log_mass, true_log_age and, where the table has them,
    log_teff_err, log_lum_err, true_log_mass_err, true_log_age_err)."""
    file, branch, errors = BENCHMARKS[name]
    path = Path(root) / file
    table = read_table(path)
    try:
        stars = pd.DataFrame({"log_teff": table["logTeff"], "log_lum": table["logLum"],
                              "true_log_mass": table["logMass"], "true_log_age": table["logAge"],
                              **errors(table)}).astype(float)
    except KeyError as error:
        raise InputError(path, f"lacks column {error}") from error
    if "[Fe/H]" in table.columns:
        stars["feh"] = table["[Fe/H]"].astype(float)
    return stars, branch


def benchmarks(model_paths: list[str], tables_path: str | Path, prior: PriorConfig, root: str | Path,
               out_dir: str | Path, metrics_path: str | Path, examples_path: str | Path,
               calibration_path: str | Path | None = None, input_errors: InputErrors | None = None,
               n_examples: int = 3, threads: int = 1) -> dict:
    """The stellar_benchmark job: each benchmark table through the mixture posterior with its stars' errors (the
    ``input_errors`` defaults where a table has none) and the calibrated model error (the stellar_evaluate job's
    table; none: the ensemble's spread alone); predictions per table, scores (with the truths' errors where a table
    has them), and the posterior draws of a few stars per table (report data)."""
    torch.set_num_threads(threads)
    net = StelNet(model_paths, tables_path, prior, calibration_path)
    metrics, examples = {}, []
    for name in BENCHMARKS:
        stars, branch = benchmark_table(root, name)
        if "feh" in net.inputs and "feh" not in stars:
            stars["feh"] = 0.0  # tables without [Fe/H] are taken as solar
        pred = estimate(net, stars, source=name, defaults=input_errors)
        write_table(pred, Path(out_dir) / f"{name}.parquet")
        truth_errors = stars if "true_log_mass_err" in stars else None
        metrics[name] = {"stars": len(stars), "branch": branch,
                         "outside_grid": int(pred["outside_grid"].sum()),
                         "mean_p_pre": float(np.nanmean(pred["p_pre"])),
                         "input_error_default": {i: sum(i in d.split() for d in pred["input_error_default"])
                                                 for i in net.inputs},
                         **scores(pred, stars["true_log_age"], stars["true_log_mass"], truth_errors),
                         "own_branch": branch_scores(pred, branch, stars["true_log_age"], stars["true_log_mass"]),
                         "no_input_error": _without_input_errors(net, stars, name)}
        log.info("%s: %s", name, metrics[name])
        examples.append(_examples(net, stars, name, n_examples, input_errors))
    write_table(pd.concat(examples, ignore_index=True), examples_path)
    _write_json(metrics_path, {"members": net.members, "draws": net.prior.draws, **metrics})
    return metrics


def _without_input_errors(net: StelNet, stars: pd.DataFrame, name: str) -> dict:
    """Scores of the posterior with no input errors (model error and ensemble alone): where a table's truths are
    isochrone fits to the same Teff and L, they share the measurement's error, so only the models' difference is
    tested, and this is the coverage that tests it."""
    x, _, note, _ = model_inputs(stars, net.inputs, name)
    usable = note == ""
    pred = net.posterior(x[usable], np.zeros_like(x[usable]))
    return scores(pred, stars.loc[usable, "true_log_age"], stars.loc[usable, "true_log_mass"])


def _examples(net: StelNet, stars: pd.DataFrame, name: str, n: int, input_errors: InputErrors | None) -> pd.DataFrame:
    """Posterior draws of the first ``n`` stars with a truth (a figure's data: draws against the true value)."""
    pick = stars[np.isfinite(stars["true_log_mass"])].head(n)
    x, sigma, note, _ = model_inputs(pick, net.inputs, name, defaults=input_errors)
    keep = note == ""
    rng = np.random.default_rng(net.prior.seed)
    draws = net.sample(x[keep], sigma[keep], rng)
    for output in OUTPUTS:  # each draw with its model error, as the summaries have it
        draws[output] = draws[output] + draws[f"{output}_sd"] * rng.standard_normal(draws[output].shape)
    rows = []
    for i, (_, star) in enumerate(pick[keep].iterrows()):
        rows.append(pd.DataFrame({"table": name, "star": int(star.name), "log_mass": draws["log_mass"][i],
                                  "log_age": draws["log_age"][i], "post_ms": draws["branch"][i],
                                  "true_log_mass": star["true_log_mass"], "true_log_age": star["true_log_age"]}))
    return pd.concat(rows, ignore_index=True) if rows else pd.DataFrame()


def _write_json(path: str | Path, values: dict) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(json.dumps(values, indent=2) + "\n")
