"""Representations of light curves and spectra that models consume."""
