"""Report figures of predictive uncertainty, from the uncertainty rule's saved artifacts alone (astroflow.uncertainty:
metrics.json, reliability.csv, coverage.csv and objects.parquet of every run): reliability diagrams, risk-coverage
curves, and histograms of a score for right and wrong predictions.

Runs of one model (model, initialisation, labelled set) and method that differ only in fold and seed are pooled.
The risk-coverage curves and histograms draw each method at its headline score: the one that best tells wrong
predictions from right ones (highest ROC-AUC, mean over the runs), so every method is shown at its best.
"""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from astroflow.errors import InputError
from astroflow.report import style
from astroflow.uncertainty import METHODS
from astroflow.uncertainty.summary import KEYS, rows

MODEL = KEYS[:3]  # model, init, n_per_class
SCORE_NAMES = {"max_p": "1 - max p", "smp": "SMP", "pv": "PV", "bald": "BALD", "entropy": "entropy"}


def runs(metrics: Sequence[str | Path]) -> pd.DataFrame:
    """One row per (run, score): the run's position in ``metrics``, its model keys, method, fold, seed, the score's
    misclassification ROC-AUC and AURC, and the run's ECE before and after calibration and the ECE floor."""
    table = pd.concat([rows([path]).assign(run=i) for i, path in enumerate(metrics)], ignore_index=True)
    return table.assign(n_per_class=table["n_per_class"].astype(str), auroc=table["auroc"].astype(float))


def headline(table: pd.DataFrame) -> pd.DataFrame:
    """One row per (model keys, method), models in the order of the runs, methods in astroflow.uncertainty.METHODS
    order: the headline score, its mean ROC-AUC and AURC, and the run positions."""
    mean = table.groupby([*MODEL, "method", "score"], sort=False)[["auroc", "aurc"]].mean().reset_index()
    best = mean.assign(rank=mean["auroc"].fillna(-1.0)).groupby([*MODEL, "method"], sort=False)["rank"].idxmax()
    out = mean.loc[best.to_numpy()].reset_index(drop=True)
    members = table.groupby([*MODEL, "method"], sort=False)["run"].unique().rename("runs")
    model = pd.factorize(pd.Series(list(zip(*(out[k] for k in MODEL)))))[0]
    method = out["method"].map({m: i for i, m in enumerate(METHODS)}).fillna(len(METHODS)).to_numpy()
    out = out.iloc[np.lexsort((method, model))].reset_index(drop=True)
    return out.join(members, on=[*MODEL, "method"])


def _model_name(model: str, init: str, n_per_class: str) -> str:
    return f"{model} ({init}, n={n_per_class})"


def _read(path: str | Path, columns: set[str]) -> pd.DataFrame:
    try:
        table = pd.read_parquet(path) if Path(path).suffix == ".parquet" else pd.read_csv(path)
    except (OSError, ValueError) as err:
        raise InputError(path, f"cannot be read ({err})") from err
    if not columns <= set(table.columns):
        raise InputError(path, f"lacks the columns {sorted(columns - set(table.columns))}")
    return table


def _check(metrics: Sequence, data: Sequence, what: str) -> None:
    if not metrics:
        raise ValueError("no uncertainty runs to draw")
    if len(metrics) != len(data):
        raise ValueError(f"{len(metrics)} metrics.json files but {len(data)} {what} files")


def pooled_bins(tables: list[pd.DataFrame]) -> pd.DataFrame:
    """Reliability bins of several runs pooled: per bin and output (raw, calibrated), the objects, and their mean
    confidence and accuracy."""
    table = pd.concat(tables, ignore_index=True).fillna({"confidence": 0.0, "accuracy": 0.0})
    table = table.assign(conf_sum=table["confidence"] * table["count"], acc_sum=table["accuracy"] * table["count"])
    pooled = table.groupby(["output", "lower", "upper"], sort=False)[["count", "conf_sum", "acc_sum"]].sum()
    full = pooled["count"].where(pooled["count"] > 0)
    return pooled.assign(confidence=pooled["conf_sum"] / full, accuracy=pooled["acc_sum"] / full).reset_index()


def _method_grid(groups: pd.DataFrame, panel: tuple[float, float]) -> tuple:
    """A figure with a panel per method (columns) and model (rows), and each group's (panel, row, model name);
    a model without a method leaves its panel blank."""
    models = list(dict.fromkeys(zip(*(groups[k] for k in MODEL))))
    methods = list(dict.fromkeys(groups["method"]))
    fig, axes = style.figure(len(models), len(methods), panel=panel)
    panels = []
    for group in groups.itertuples(index=False):
        model = tuple(getattr(group, k) for k in MODEL)
        panels.append((axes[models.index(model), methods.index(group.method)], group, _model_name(*model)))
    for ax in set(axes.ravel()) - {ax for ax, _, _ in panels}:
        ax.remove()
    return fig, panels


def reliability_diagrams(metrics: Sequence[str | Path], reliability: Sequence[str | Path], out_png: str | Path):
    """Accuracy against confidence (max of the mean probabilities) in confidence bins, one panel per method (a row
    per model): bars before calibration (temperature or vector scaling), a line after; the diagonal is perfect
    calibration. Returns the figure."""
    _check(metrics, reliability, "reliability.csv")
    table, columns = runs(metrics), {"lower", "upper", "count", "confidence", "accuracy", "output"}
    ece = table.groupby("run")[["ece", "ece_calibrated", "ece_floor"]].first()
    fig, panels = _method_grid(headline(table), (2.3, 2.3))
    for ax, group, name in panels:
        bins = pooled_bins([_read(reliability[i], columns) for i in group.runs])
        raw, calibrated = bins[bins["output"] == "raw"], bins[bins["output"] == "calibrated"]
        ax.bar(raw["lower"], raw["accuracy"].fillna(0), width=raw["upper"] - raw["lower"], align="edge",
               color=style.RAW, edgecolor="white", lw=0.3, label="mean prediction")
        done = calibrated.dropna(subset=["accuracy"])
        ax.plot(done["confidence"], done["accuracy"], color=style.CALIBRATED, marker="o", ms=2,
                label="calibrated (uncertainty.calibration)")
        style.identity(ax, 0.0, 1.0)
        ax.set(xlim=(0, 1), ylim=(0, 1), xlabel="confidence (max p)", ylabel="accuracy")
        scores = ece.loc[group.runs].mean()
        ax.set_title(f"{name}\n{group.method}: ECE {scores['ece']:.3f}, scaled {scores['ece_calibrated']:.3f}\n"
                     f"(perfectly calibrated: {scores['ece_floor']:.3f})")
    panels[0][0].legend(loc="upper left")
    style.save(fig, out_png, "reliability diagrams (dashed: perfect calibration)")
    return fig


def _curve(path: str | Path, score: str) -> pd.DataFrame:
    curve = _read(path, {"coverage", "risk", "score"})
    curve = curve[curve["score"] == score]
    if curve.empty:
        raise InputError(path, f"has no risk-coverage curve of score {score}")
    return curve


def _mean_curve(curves: list[pd.DataFrame], grid: np.ndarray) -> np.ndarray:
    """Risk of several runs' curves on a common coverage grid (each interpolated), averaged."""
    return np.mean([np.interp(grid, c["coverage"], c["risk"]) for c in curves], axis=0)


def risk_coverage(metrics: Sequence[str | Path], coverage: Sequence[str | Path], out_png: str | Path):
    """Risk (error rate of the objects kept) against coverage (share kept, the least uncertain first) of every
    method at its headline score, one panel per model; the area under a curve (AURC) in the legend. Returns the figure."""
    _check(metrics, coverage, "coverage.csv")
    groups = headline(runs(metrics))
    models = list(dict.fromkeys(zip(*(groups[k] for k in MODEL))))
    rows_, cols = style.grid_shape(len(models), 3)
    fig, axes = style.figure(rows_, cols, panel=(3.4, 2.6))
    colours = dict(zip(dict.fromkeys(groups["method"]), style.class_colours(groups["method"].nunique())))
    for ax, model in zip(axes.ravel(), models):
        for group in groups[[tuple(g) == model for g in groups[MODEL].to_numpy()]].itertuples(index=False):
            curves = [_curve(coverage[i], group.score) for i in group.runs]
            start = max(c["coverage"].min() for c in curves)
            grid = np.linspace(start, 1.0, 100)
            ax.plot(grid, _mean_curve(curves, grid), color=colours[group.method],
                    label=f"{group.method} ({SCORE_NAMES.get(group.score, group.score)}), AURC {group.aurc:.3f}")
        ax.set(xlim=(0, 1), xlabel="coverage (share of objects kept)", ylabel="risk (error rate of kept)",
               title=_model_name(*model))
        ax.set_ylim(bottom=0)
        ax.legend(fontsize=5)
    style.hide_unused(axes, len(models))
    style.save(fig, out_png, "risk-coverage: abstaining on the most uncertain objects")
    return fig


def score_histograms(metrics: Sequence[str | Path], objects: Sequence[str | Path], out_png: str | Path,
                     bins: int = 20):
    """Histograms (each normalised to its area) of the headline score of right and of wrong predictions, one panel
    per method (a row per model), pooled over folds and seeds: the less they overlap, the better the score tells
    which predictions to trust. Returns the figure."""
    _check(metrics, objects, "objects.parquet")
    fig, panels = _method_grid(headline(runs(metrics)), (2.3, 2.0))
    for ax, group, name in panels:
        table = pd.concat([_read(objects[i], {"label", "pred", group.score}) for i in group.runs], ignore_index=True)
        table = table.dropna(subset=["label"])
        right = (table["label"] == table["pred"]).to_numpy(dtype=bool)
        score = table[group.score].to_numpy(dtype=float)
        edges = np.histogram_bin_edges(score, bins=bins)
        for chosen, outcome in ((right, "right"), (~right, "wrong")):
            if chosen.any():
                ax.hist(score[chosen], bins=edges, density=True, histtype="stepfilled", alpha=0.45,
                        color=style.OUTCOME[outcome], label=f"{outcome} ({int(chosen.sum())})")
        auroc = "n/a" if np.isnan(group.auroc) else f"{group.auroc:.2f}"
        ax.set(xlabel=SCORE_NAMES.get(group.score, group.score), ylabel="density",
               title=f"{name}\n{group.method}: ROC-AUC {auroc}")
        ax.legend()
    style.save(fig, out_png, "uncertainty of right and wrong predictions (headline score of each method)")
    return fig
