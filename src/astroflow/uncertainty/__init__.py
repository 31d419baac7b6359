"""Predictive uncertainty of the classifiers: sampling methods, per-object scores, and their evaluation."""

METHODS = ("deterministic", "mc_dropout", "hsa", "ha_mc_dropout", "ensemble")  # see sampling.py
