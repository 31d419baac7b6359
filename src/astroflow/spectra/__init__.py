"""Spectra: readers (SDSS/BOSS, LAMOST, DESI), a store on one log10-wavelength grid, a simulator, and class and
redshift models on spectrum images (ViT, Spectromer arXiv:2506.00294), on the flux vector (1-D CNN) and the
random forest and SVM baselines."""
