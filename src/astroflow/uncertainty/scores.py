"""Uncertainty scores of one object from its sampled class probabilities p[t, c] (Cadiz-Leyton et al. 2025).

Arrays here are (N, T, C): N objects, T stochastic passes (or M ensemble members), C classes. Every score is
higher for a less certain prediction, so a broker abstains on the largest ones.
"""
from __future__ import annotations

import numpy as np

SAMPLED = ("smp", "pv", "bald", "entropy")  # the scores of T > 1 probability vectors
DETERMINISTIC = ("max_p", "entropy")  # the scores of one deterministic pass: 1 - max p, and its entropy


def check_samples(probs: np.ndarray) -> np.ndarray:
    """``probs`` as float64 (N, T, C), after checking its shape and that every vector is a probability vector."""
    probs = np.asarray(probs, dtype=np.float64)
    if probs.ndim != 3 or probs.shape[1] < 1 or probs.shape[2] < 2:
        raise ValueError(f"sampled probabilities must be (objects, passes, classes >= 2), not {probs.shape}")
    if probs.size and (not np.isfinite(probs).all() or probs.min() < 0
                       or not np.allclose(probs.sum(axis=-1), 1.0, atol=1e-3)):
        raise ValueError("sampled probabilities must be finite, non-negative and sum to 1 over the classes")
    return probs


def entropy(probs: np.ndarray) -> np.ndarray:
    """Shannon entropy (nats) over the last axis, with 0 log 0 = 0."""
    probs = np.asarray(probs, dtype=np.float64)
    logs = np.log(np.where(probs > 0, probs, 1.0))
    return -(probs * logs).sum(axis=-1)


def sampled_maximum_probability(probs: np.ndarray) -> np.ndarray:
    """SMP = 1 - max_c mean_t p[t, c]."""
    return 1.0 - probs.mean(axis=1).max(axis=-1)


def probability_variance(probs: np.ndarray) -> np.ndarray:
    """PV = sum_c var_t p[t, c] (the variance over passes, not its unbiased estimate)."""
    return probs.var(axis=1).sum(axis=-1)


def bald(probs: np.ndarray) -> np.ndarray:
    """BALD = H(mean_t p) - mean_t H(p_t): the mutual information between the prediction and the weights."""
    return np.clip(entropy(probs.mean(axis=1)) - entropy(probs).mean(axis=1), 0.0, None)


def scores(probs: np.ndarray) -> dict[str, np.ndarray]:
    """Every score of (N, T, C) sampled probabilities: SAMPLED when T > 1; DETERMINISTIC for a single pass, where
    SMP is 1 - max p and PV and BALD are identically 0."""
    probs = check_samples(probs)
    mean = probs.mean(axis=1)
    if probs.shape[1] == 1:
        return {"max_p": 1.0 - mean.max(axis=-1), "entropy": entropy(mean)}
    return {"smp": sampled_maximum_probability(probs), "pv": probability_variance(probs), "bald": bald(probs),
            "entropy": entropy(mean)}
