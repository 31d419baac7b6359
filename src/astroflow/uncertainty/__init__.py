"""Predictive uncertainty of the classifiers: sampling methods, per-object scores, and their evaluation."""
