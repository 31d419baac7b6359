"""What a classifier reads, drawn per batch from the light curves: images and dt/dm sequences.

Every source has the interface of astroflow.train.data.Windows: ``ragged`` and ``index`` (the objects it draws
from), ``random(rows, rng)`` (one augmented example per object at positions ``rows`` of ``index``) and
``all(rows)`` (one deterministic example per object; ``index`` says whose), each a dict of numpy arrays with
``label`` and ``index``.
"""
from __future__ import annotations
