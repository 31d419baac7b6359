"""Stellar masses and ages from the HR diagram (StelNet, Garraffo et al. 2021, arXiv:2106.07655).

grids: evolutionary grids (lachesis-grids) split at the ZAMS into pre- and post-main-sequence training samples;
model: the 10 x 50 ReLU MLP and its bootstrap ensemble, trained all members at once;
posterior: the two branches mixed by an IMF x time-in-phase prior, with input errors sampled;
evaluate: held-back tracks and stars with independent masses and ages.
"""
