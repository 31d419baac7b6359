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
from astroflow.stellar.stars import estimate, read_table, write_table

LN10 = np.log(10)


def _fgk(t):  # Lum and its error are already log10 L
    return t["logTeff"], t["Teff_err"] / (t["Teff"] * LN10), t["logLum"], t["Lum_err"]


def _tess(t):  # asymmetric errors: their mean
    return (t["logTeff"], (t["E_Teff"] + t["e_Teff"]) / 2 / (t["Teff"] * LN10), t["logLum"],
            (t["E_Luminosity"] + t["e_Luminosity"]) / 2 / (t["Luminosity"] * LN10))


def _dh(t):
    lum_err = (t["lum_percentile_upper"] - t["lum_percentile_lower"]) / 2 / (t["lum_val"] * LN10)
    return t["logTeff"], t["e_Teff"] / (t["Teff"] * LN10), t["logLum"], lum_err


def _no_errors(t):
    return t["logTeff"], 0.0 * t["logTeff"], t["logLum"], 0.0 * t["logLum"]


# name: (file under the benchmark folder, the branch its stars are on, its inputs and errors in log10 units)
BENCHMARKS: dict[str, tuple[str, str, Callable]] = {
    "fgk": ("Data/postZAMS/FGK.csv", "post", _fgk),
    "tess_gr": ("Data/postZAMS/G-R.csv", "post", _tess),
    "david_hillenbrand": ("Data/postZAMS/DH.csv", "post", _dh),
    "onc": ("Data/preZAMS/ONC.csv", "pre", _no_errors),
    "ngc6530": ("Data/preZAMS/ngc6530.csv", "pre", _no_errors),
}


def scores(pred: pd.DataFrame, true_log_age, true_log_mass) -> dict:
    """Median absolute error (dex) and 16-84% coverage of log mass and log age, over stars with a truth and a
    prediction."""
    out = {}
    for name, truth in (("log_mass", np.asarray(true_log_mass, float)), ("log_age", np.asarray(true_log_age, float))):
        ok = np.isfinite(truth) & np.isfinite(pred[f"{name}_p50"].to_numpy())
        err = np.abs(pred[f"{name}_p50"].to_numpy()[ok] - truth[ok])
        inside = (pred[f"{name}_p16"].to_numpy()[ok] <= truth[ok]) & (truth[ok] <= pred[f"{name}_p84"].to_numpy()[ok])
        out[name] = {"median_abs_error": float(np.median(err)) if ok.any() else None,
                     "coverage_16_84": float(inside.mean()) if ok.any() else None, "n": int(ok.sum())}
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
             calibration_path: str | Path, threads: int = 1) -> dict:
    """The stellar_evaluate job: the calibration table (the model errors on the held-back tracks of every calibration
    set, StelNet.model_errors), and every held-back track point of the training grid through its own branch's
    ensemble and through the calibrated mixture (no input errors), scored against the grid's age and mass. Scores
    are cross-fitted: alternate held-back tracks calibrate the others, so no point's own track sets its interval."""
    torch.set_num_threads(threads)
    net = StelNet(model_paths, tables_path, prior)
    errors = net.model_errors(pd.read_parquet(calibration_points_path))
    write_table(errors, calibration_path)
    metrics = {}
    parts = []
    for branch in BRANCHES:
        held = read_samples(samples_path, branch)
        held = held[held["held_back"]].reset_index(drop=True)
        x = held[net.inputs].to_numpy(np.float64)
        tracks = np.unique(np.concatenate([errors["track"], held["track"]]))
        fold = np.searchsorted(tracks, held["track"]) % 2
        net.calibration = None
        plain = net.posterior(x, np.zeros_like(x))  # the ensemble's spread alone, for comparison
        pred, sd = pd.DataFrame(), np.zeros((len(held), 2))
        for f in (0, 1):
            net.calibration = Calibration(errors[np.searchsorted(tracks, errors["track"]) % 2 != f], net.nets)
            part = net.posterior(x[fold == f], np.zeros_like(x[fold == f]))
            pred = pd.concat([pred, part.set_index(np.flatnonzero(fold == f))])
            sd[fold == f] = net.calibration.sd(x[fold == f])[BRANCHES.index(branch)]
        pred = pred.sort_index()
        pred.insert(0, "true_log_age", held["log_age"].to_numpy())
        pred.insert(0, "true_log_mass", held["log_mass"].to_numpy())
        pred.insert(0, "track", held["track"].to_numpy())
        pred.insert(0, "branch", branch)
        metrics[branch] = {"mixture": scores(pred, held["log_age"], held["log_mass"]),
                           "ensemble_only": scores(plain, held["log_age"], held["log_mass"]),
                           "own_branch": branch_scores(pred, branch, held["log_age"], held["log_mass"]),
                           "tracks": int(held["track"].nunique()), "points": len(held),
                           "model_error_median": dict(zip(OUTPUTS, np.median(sd, axis=0).tolist())),
                           "mean_p_pre": float(np.nanmean(pred["p_pre"]))}
        log.info("held-back %s-MS tracks: %s", branch, metrics[branch])
        parts.append(pred)
    write_table(pd.concat(parts, ignore_index=True), predictions_path)
    _write_json(metrics_path, {"members": net.members, "draws": net.prior.draws, **metrics})
    return metrics


def benchmark_table(root: str | Path, name: str) -> tuple[pd.DataFrame, str]:
    """A benchmark table as stars (log_teff, log_teff_err, log_lum, log_lum_err, true_log_mass, true_log_age)."""
    file, branch, columns = BENCHMARKS[name]
    path = Path(root) / file
    table = read_table(path)
    try:
        log_teff, teff_err, log_lum, lum_err = columns(table)
        stars = pd.DataFrame({"log_teff": log_teff, "log_teff_err": teff_err, "log_lum": log_lum,
                              "log_lum_err": lum_err, "true_log_mass": table["logMass"],
                              "true_log_age": table["logAge"]}).astype(float)
    except KeyError as error:
        raise InputError(path, f"lacks column {error}") from error
    if "[Fe/H]" in table.columns:
        stars["feh"] = table["[Fe/H]"].astype(float)
    return stars, branch


def benchmarks(model_paths: list[str], tables_path: str | Path, prior: PriorConfig, root: str | Path,
               out_dir: str | Path, metrics_path: str | Path, examples_path: str | Path,
               calibration_path: str | Path | None = None, n_examples: int = 3, threads: int = 1) -> dict:
    """The stellar_benchmark job: each benchmark table through the mixture posterior with its stars' errors and the
    calibrated model error (the stellar_evaluate job's table; none: the ensemble's spread alone); predictions per
    table, scores, and the posterior draws of a few stars per table (report data)."""
    torch.set_num_threads(threads)
    net = StelNet(model_paths, tables_path, prior, calibration_path)
    metrics, examples = {}, []
    for name in BENCHMARKS:
        stars, branch = benchmark_table(root, name)
        if "feh" in net.inputs and "feh" not in stars:
            stars["feh"] = 0.0  # tables without [Fe/H] are taken as solar
        pred = estimate(net, stars, source=name)
        write_table(pred, Path(out_dir) / f"{name}.parquet")
        metrics[name] = {"stars": len(stars), "branch": branch,
                         "outside_grid": int(pred["outside_grid"].sum()),
                         "mean_p_pre": float(np.nanmean(pred["p_pre"])),
                         **scores(pred, stars["true_log_age"], stars["true_log_mass"]),
                         "own_branch": branch_scores(pred, branch, stars["true_log_age"], stars["true_log_mass"])}
        log.info("%s: %s", name, metrics[name])
        examples.append(_examples(net, stars, name, n_examples))
    write_table(pd.concat(examples, ignore_index=True), examples_path)
    _write_json(metrics_path, {"members": net.members, "draws": net.prior.draws, **metrics})
    return metrics


def _examples(net: StelNet, stars: pd.DataFrame, name: str, n: int) -> pd.DataFrame:
    """Posterior draws of the first ``n`` stars with a truth (a figure's data: draws against the true value)."""
    from astroflow.stellar.stars import model_inputs

    pick = stars[np.isfinite(stars["true_log_mass"])].head(n)
    x, sigma, note = model_inputs(pick, net.inputs, name)
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
