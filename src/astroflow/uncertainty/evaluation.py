"""How good the uncertainty of a method is: misclassification detection, calibration, risk-coverage and
out-of-distribution detection, computed from per-object scores and mean probabilities.

Misclassification detection follows Cadiz-Leyton et al. (2025): the positives are objects whose mean prediction
is wrong, and a score is judged by its ROC-AUC and by a one-sided Wilcoxon-Mann-Whitney test that wrong
predictions score higher than correct ones.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.optimize import minimize, minimize_scalar
from scipy.stats import mannwhitneyu, rankdata
from sklearn.metrics import roc_auc_score

from astroflow.uncertainty.scores import scores

EPS = 1e-12
TEMPERATURES = (0.05, 20.0)  # the range temperature scaling searches
CALIBRATIONS = ("temperature", "vector")  # the calibrated output: one temperature, or a scale and a bias per class


def auroc(score: np.ndarray, positive: np.ndarray) -> float | None:
    """ROC-AUC of ``score`` for the ``positive`` objects; None when either side is empty (it is undefined)."""
    positive = np.asarray(positive, dtype=bool)
    if positive.all() or not positive.any():
        return None
    return float(roc_auc_score(positive, score))


def misclassification(score: np.ndarray, wrong: np.ndarray) -> dict:
    """ROC-AUC of ``score`` at telling wrong predictions from correct ones, and the Wilcoxon-Mann-Whitney test
    (U statistic of the wrong ones, one-sided p-value that they score higher)."""
    score, wrong = np.asarray(score, dtype=np.float64), np.asarray(wrong, dtype=bool)
    result = {"auroc": auroc(score, wrong), "mwu_u": None, "mwu_p": None}
    if result["auroc"] is not None:
        test = mannwhitneyu(score[wrong], score[~wrong], alternative="greater")
        result |= {"mwu_u": float(test.statistic), "mwu_p": float(test.pvalue)}
    return result


def bootstrap_auroc(score: np.ndarray, positive: np.ndarray, index: np.ndarray) -> np.ndarray:
    """ROC-AUC of ``score`` for the ``positive`` objects in each resample (a row of object positions of ``index``),
    from rank sums (ties count half, as in roc_auc_score); NaN for a resample without both sides."""
    score, positive = np.asarray(score, dtype=np.float64)[index], np.asarray(positive, dtype=bool)[index]
    n_positive = positive.sum(axis=1)
    ranks = (rankdata(score, axis=1) * positive).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (ranks - n_positive * (n_positive + 1) / 2) / (n_positive * (positive.shape[1] - n_positive))


def paired_difference(score: np.ndarray, wrong: np.ndarray, baseline: np.ndarray, baseline_wrong: np.ndarray,
                      draws: int = 1000, seed: int = 0) -> tuple[float, float, float]:
    """ROC-AUC of ``score`` at finding ``wrong`` less that of ``baseline`` at finding ``baseline_wrong`` (two methods
    on the same objects, each judged on its own errors), and the 95% interval of that difference from a paired
    bootstrap: both resampled with the same objects, so the interval holds the noise of the comparison, which is far
    smaller than that of either ROC-AUC when the two scores rank alike. NaN when either ROC-AUC is undefined."""
    a, b = auroc(score, wrong), auroc(baseline, baseline_wrong)
    if a is None or b is None:
        return float("nan"), float("nan"), float("nan")
    index = np.random.default_rng(seed).integers(0, len(score), (draws, len(score)))
    diffs = bootstrap_auroc(score, wrong, index) - bootstrap_auroc(baseline, baseline_wrong, index)
    low, high = np.nanpercentile(diffs, [2.5, 97.5])
    return a - b, float(low), float(high)


def confidence_bins(confidence: np.ndarray, n_bins: int) -> np.ndarray:
    """The equal-width bin (0 .. n_bins - 1) of each confidence in [0, 1]; the upper edge is in its bin."""
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    return np.clip(np.digitize(confidence, edges[1:-1], right=True), 0, n_bins - 1)


def reliability(probs: np.ndarray, label: np.ndarray, n_bins: int = 15) -> pd.DataFrame:
    """Reliability-diagram data: equal-width bins of confidence (max p), each with its object count, mean
    confidence and accuracy (NaN for an empty bin)."""
    confidence = probs.max(axis=1)
    correct = probs.argmax(axis=1) == label
    which = confidence_bins(confidence, n_bins)
    count = np.bincount(which, minlength=n_bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        conf = np.bincount(which, confidence, minlength=n_bins) / count
        acc = np.bincount(which, correct.astype(float), minlength=n_bins) / count
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    return pd.DataFrame({"lower": edges[:-1], "upper": edges[1:], "count": count, "confidence": conf,
                         "accuracy": acc})


def binned_gap(confidence: np.ndarray, correct: np.ndarray, n_bins: int) -> np.ndarray:
    """ECE of the outcomes ``correct`` (N,) or (draws, N) at these confidences: the sum over bins of |correct
    predictions - summed confidence|, over N (a bin's count times its |accuracy - mean confidence|)."""
    onehot = np.eye(n_bins)[confidence_bins(confidence, n_bins)]
    return np.abs(np.asarray(correct, dtype=float) @ onehot - confidence @ onehot).sum(axis=-1) / max(len(confidence), 1)


def ece_floor(probs: np.ndarray, n_bins: int = 15, draws: int = 200, seed: int = 0) -> float:
    """The ECE that a perfectly calibrated classifier with these confidences shows on this many objects: the mean
    over ``draws`` seeded draws of outcomes, each prediction right with probability max p. The binned estimator is
    biased upwards by the sampling noise of every bin's accuracy, so a finite test set measures about this much
    even when nothing is miscalibrated (about 0.055 for 439 objects of spread confidences in 15 bins)."""
    confidence = probs.max(axis=1)
    correct = np.random.default_rng(seed).random((draws, len(confidence))) < confidence
    return float(binned_gap(confidence, correct, n_bins).mean())


def calibration(probs: np.ndarray, label: np.ndarray, n_bins: int = 15) -> dict:
    """Expected calibration error (over ``n_bins`` confidence bins) and its floor (ece_floor), negative
    log-likelihood and Brier score of mean probabilities (N, C) against integer labels."""
    onehot = np.eye(probs.shape[1])[label]
    return {"ece": float(binned_gap(probs.max(axis=1), probs.argmax(axis=1) == label, n_bins)),
            "ece_floor": ece_floor(probs, n_bins),
            "nll": nll(probs, label),
            "brier": float(((probs - onehot) ** 2).sum(axis=1).mean())}


def nll(probs: np.ndarray, label: np.ndarray) -> float:
    """Mean negative log-likelihood of integer labels under probabilities (N, C)."""
    return float(-np.log(np.clip(probs[np.arange(len(label)), label], EPS, None)).mean())


def with_scaling(probs: np.ndarray, scale: float | np.ndarray, bias: float | np.ndarray = 0.0) -> np.ndarray:
    """softmax(scale * log p + bias): temperature scaling (scale 1 / T, no bias) or vector scaling (a scale and a
    bias per class) of mean probabilities."""
    logits = np.log(np.clip(probs, EPS, None)) * scale + bias
    logits -= logits.max(axis=1, keepdims=True)
    out = np.exp(logits)
    return out / out.sum(axis=1, keepdims=True)


def with_temperature(probs: np.ndarray, temperature: float) -> np.ndarray:
    """softmax(log p / T): mean probabilities sharpened (T < 1) or softened (T > 1)."""
    return with_scaling(probs, 1.0 / temperature)


def fit_temperature(probs: np.ndarray, label: np.ndarray) -> float:
    """The temperature (in TEMPERATURES) that minimises the NLL of ``probs`` on these labelled (validation)
    objects: temperature scaling applied to the log of the mean prediction."""
    if not len(label):
        raise ValueError("temperature scaling needs labelled validation objects")

    return float(minimize_scalar(lambda t: nll(with_temperature(probs, t), label), bounds=TEMPERATURES,
                                 method="bounded").x)


def fit_vector_scaling(probs: np.ndarray, label: np.ndarray, temperature: float) -> tuple[np.ndarray, np.ndarray]:
    """The scale and bias of every class's log p (vector scaling, Guo et al. 2017) that minimise the NLL of these
    labelled (validation) objects, from temperature scaling's (scales 1 / T, biases 0). One temperature only
    stretches or shrinks every confidence alike; a model sure of some classes and unsure of others needs one per
    class. 2C parameters: for validation sets of hundreds of objects, not a handful per class."""
    n = probs.shape[1]
    fit = minimize(lambda x: nll(with_scaling(probs, x[:n], x[n:]), label),
                   np.concatenate([np.full(n, 1.0 / temperature), np.zeros(n)]), method="L-BFGS-B")
    return fit.x[:n], fit.x[n:]


def risk_coverage(score: np.ndarray, correct: np.ndarray, points: int = 100) -> tuple[pd.DataFrame, dict]:
    """Accuracy kept when abstaining on the most uncertain objects: ``points`` coverages (share of objects kept,
    the least uncertain first), and the areas under the accuracy-coverage and risk-coverage curves over every
    coverage k/N (AURC: lower is better)."""
    order = np.argsort(np.asarray(score), kind="stable")
    kept_correct = np.cumsum(np.asarray(correct, dtype=float)[order])
    n = len(order)
    accuracy = kept_correct / np.arange(1, n + 1)
    at = np.unique(np.clip(np.ceil(np.round(np.linspace(1 / points, 1, points) * n, 6)).astype(int), 1, n)) - 1
    curve = pd.DataFrame({"coverage": (at + 1) / n, "accuracy": accuracy[at], "risk": 1 - accuracy[at]})
    return curve, {"accuracy_area": float(accuracy.mean()), "aurc": float(1 - accuracy.mean())}


def assess(samples: np.ndarray, label: np.ndarray, validation: np.ndarray, validation_label: np.ndarray,
           n_bins: int = 15, points: int = 100, known: np.ndarray | None = None, scaling: str = "temperature"
           ) -> tuple[dict, dict[str, np.ndarray], pd.DataFrame, pd.DataFrame]:
    """Everything the uncertainty rule reports about one method, from sampled probabilities (N, T, C) of labelled
    test objects and the mean probabilities (V, C) of the validation objects (for temperature scaling).

    ``known`` (N,) marks objects of classes the model was trained on (default all); the others are
    out-of-distribution: each score's AUROC at finding them is reported, and they are left out of the rest.
    ``scaling`` (CALIBRATIONS) is how the calibrated output is fitted on the validation objects.
    Returns the metrics, the per-object scores, the reliability bins (before and after temperature scaling) and
    the risk-coverage points of every score."""
    per_object = scores(samples)
    mean = samples.mean(axis=1)
    known = np.ones(len(label), dtype=bool) if known is None else np.asarray(known, dtype=bool)
    if not known.any():
        raise ValueError("no test object of a class the model was trained on")
    ood = {name: auroc(score, ~known) for name, score in per_object.items()} if not known.all() else None
    mean, label = mean[known], np.asarray(label)[known]
    wrong = mean.argmax(axis=1) != label
    if scaling not in CALIBRATIONS:
        raise ValueError(f"unknown calibration {scaling!r} (one of {', '.join(CALIBRATIONS)})")
    temperature = fit_temperature(validation, validation_label)
    scale, bias = (fit_vector_scaling(validation, validation_label, temperature) if scaling == "vector"
                   else (1.0 / temperature, 0.0))
    calibrated = with_scaling(mean, scale, bias)
    curves, coverage = [], {}
    for name, score in per_object.items():
        curve, coverage[name] = risk_coverage(score[known], ~wrong, points)
        curves.append(curve.assign(score=name))
    bins = pd.concat([reliability(mean, label, n_bins).assign(output="raw"),
                      reliability(calibrated, label, n_bins).assign(output="calibrated")], ignore_index=True)
    metrics = {
        "n_objects": int(known.sum()), "n_wrong": int(wrong.sum()), "passes": samples.shape[1],
        "misclassification": {name: misclassification(score[known], wrong) for name, score in per_object.items()},
        "risk_coverage": coverage,
        "calibration": calibration(mean, label, n_bins),
        "temperature": temperature,
        "scaling": {"method": scaling, "scale": np.atleast_1d(scale).tolist(), "bias": np.atleast_1d(bias).tolist()},
        "calibrated": calibration(calibrated, label, n_bins),
        "ood": ood, "n_ood": int((~known).sum()),
    }
    return metrics, per_object, bins, pd.concat(curves, ignore_index=True)
