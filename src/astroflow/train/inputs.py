"""What a classifier reads, drawn per batch from the light curves: images and dt/dm sequences.

Every source has the interface of astroflow.train.data.Windows: ``ragged`` and ``index`` (the objects it draws
from), ``random(rows, rng)`` (one example per object at positions ``rows`` of ``index``, augmented when the
source was made with ``augment=True``: training) and ``all(rows)`` (one deterministic, un-augmented example per
object; ``index`` says whose), each a dict of numpy arrays with ``label`` and ``index``.
"""
from __future__ import annotations

import inspect
from dataclasses import replace

import numpy as np
import pandas as pd

from astroflow import models
from astroflow.errors import ConfigError
from astroflow.models.card import ModelCard
from astroflow.models.cnn import CNNConfig
from astroflow.models.rnn import RNNConfig
from astroflow.models.vision import VisionConfig
from astroflow.ragged import Ragged
from astroflow.represent.dtdm import dtdm_cnn, dtdm_rnn, subsample
from astroflow.represent.images import render_lightcurves
from astroflow.train.data import Windows
from astroflow.train.tabular import WithObjectArrays, object_arrays, table_of


class DtDm:
    """Per-band dt/dm sequences: the RNN's steps (``config`` an RNNConfig) or the CNN's series (a CNNConfig).

    Training examples are augmented as Aguirre et al. (2019) do for unevenly sampled series: every first or second
    point is kept from a random start, the start reaching further in when a light curve is longer than the model
    reads, so every part of it is seen over the epochs.
    """

    def __init__(self, ragged: Ragged, index: np.ndarray, config: RNNConfig | CNNConfig, augment: bool = False):
        self.ragged, self.index, self.config, self.augment = ragged, np.asarray(index, dtype=np.int64), config, augment
        if not len(self.index):
            raise ValueError("no objects to draw sequences from")
        n_bands = max(len(ragged.bands), 1)
        per_band = config.length if isinstance(config, CNNConfig) else config.max_steps * config.stride + config.window
        self.reach = n_bands * (per_band + 1)  # points of all bands the model reads at most

    def random(self, rows: np.ndarray, rng: np.random.Generator) -> dict[str, np.ndarray]:
        index = self.index[rows]
        part = self.ragged.subset(index)
        if self.augment:
            part = subsample(part, int(rng.integers(2**62)), max_step=2,
                             max_offset=np.maximum(part.row_size - self.reach, 2))
        return self._encode(part, index)

    def all(self, rows: np.ndarray | None = None) -> dict[str, np.ndarray]:
        index = self.index if rows is None else self.index[rows]
        return self._encode(self.ragged.subset(index), index)

    def _encode(self, part: Ragged, index: np.ndarray) -> dict[str, np.ndarray]:
        c = self.config
        if isinstance(c, CNNConfig):
            seq, names = dtdm_cnn(part, c.length, per_band=True), ("series", "series_mask")
        else:
            seq, names = dtdm_rnn(part, c.window, c.stride, c.max_steps, per_band=True), ("steps", "steps_mask")
        return {names[0]: seq.values, names[1]: seq.mask, "label": part.label.astype(np.int64), "index": index}


# Augmentation of training images: every draw is a plot of the same object as it could have been observed.
DROP = 0.3  # largest share of observations dropped (the share is drawn per object)
CROP = 0.5  # chance of a random crop of the time span ...
MIN_SPAN = 0.6  # ... to at least this share of it
JITTER = 1.0  # values moved by Gaussian noise of this many times their error
RENDER_SETTINGS = set(inspect.signature(render_lightcurves).parameters) - {"lightcurves", "magnitudes"}


def plot_augment(ragged: Ragged, rng: np.random.Generator, drop: float = DROP, crop: float = CROP,
                 min_span: float = MIN_SPAN, jitter: float = JITTER) -> Ragged:
    """The light curves with a random share (up to ``drop``) of each object's observations dropped, with chance
    ``crop`` a random window of at least ``min_span`` of its time span kept, and values moved by their errors times
    ``jitter`` Gaussian noise. Time order is kept (no flips); an object left with fewer than two observations (one,
    if it had one) keeps all of them. Every draw comes from ``rng``."""
    n, obj = len(ragged), ragged.owner
    share, cropped = rng.uniform(0, drop, n), rng.random(n) < crop
    span, start = rng.uniform(min_span, 1, n), rng.random(n)
    dropped, noise = rng.random(len(ragged.time)) < share[obj], rng.standard_normal(len(ragged.time))
    if not len(ragged.time):
        return ragged
    first = np.minimum(ragged.offset, len(ragged.time) - 1)
    last = np.maximum(first + ragged.row_size - 1, first)
    t_low, t_range = ragged.time[first], ragged.time[last] - ragged.time[first]
    low = t_low + start * (1 - span) * t_range
    outside = (ragged.time < low[obj]) | (ragged.time > (low + span * t_range)[obj])
    keep = ~dropped & ~(cropped[obj] & outside)
    enough = np.bincount(obj[keep], minlength=n) >= np.minimum(ragged.row_size, 2)
    keep |= ~enough[obj]
    value = ragged.value + (jitter * noise * ragged.error).astype(ragged.value.dtype)
    return replace(ragged, value=value).where(keep)


class Images:
    """Light curves drawn as images (represent/images.py) for the image classifiers; ``image`` holds the settings
    of render_lightcurves (layout, size, renderer, scale, line_width, marker_size, errorbar_width, grid, ...).
    Training examples are augmented by plot_augment; ``magnitudes`` draws brighter up."""

    def __init__(self, ragged: Ragged, index: np.ndarray, image: dict, augment: bool = False,
                 magnitudes: bool = True):
        self.ragged, self.index, self.augment = ragged, np.asarray(index, dtype=np.int64), augment
        if not len(self.index):
            raise ValueError("no objects to draw images of")
        for key in image:
            if key not in RENDER_SETTINGS:
                settings = ", ".join(sorted(RENDER_SETTINGS))
                raise ConfigError(f"image.{key}", f"not a rendering setting (settings: {settings})")
        # Every batch is drawn with the bands of the whole data set, whichever of them its objects have.
        n_bands = len(ragged.bands) or int(ragged.band.max(initial=0)) + 1
        self.settings = {"n_bands": n_bands, **image, "magnitudes": magnitudes}

    def random(self, rows: np.ndarray, rng: np.random.Generator) -> dict[str, np.ndarray]:
        index = self.index[rows]
        part = self.ragged.subset(index)
        return self._draw(plot_augment(part, rng) if self.augment else part, index)

    def all(self, rows: np.ndarray | None = None) -> dict[str, np.ndarray]:
        index = self.index if rows is None else self.index[rows]
        return self._draw(self.ragged.subset(index), index)

    def _draw(self, part: Ragged, index: np.ndarray) -> dict[str, np.ndarray]:
        return {"image": render_lightcurves(part, **self.settings), "label": part.label.astype(np.int64),
                "index": index}


def model_inputs(ragged: Ragged, index: np.ndarray, card: ModelCard, augment: bool = False,
                 table: pd.DataFrame | None = None):
    """What the model of ``card`` reads of the objects ``index``: windows for the Astromer family, dt/dm sequences
    or images for the classifiers; ``augment`` for training. A model with ``card.feature_norm`` also reads the
    objects' light-curve features and best period (tabular.py) from ``table`` (the features rule's table of
    ``ragged``'s objects; None: extracted now)."""
    source = _source(ragged, index, card, augment)
    if card.feature_norm is None:
        return source
    return WithObjectArrays(source, object_arrays(table_of(ragged, card.quantity, table), card.feature_norm,
                                                  card.bands))


def _source(ragged: Ragged, index: np.ndarray, card: ModelCard, augment: bool):
    if models.kind(card.model) == "encoder":
        return Windows(ragged, index, card.window, card.band, apart=card.bands_apart)
    config = models.model_config(card.model, **card.overrides)
    if isinstance(config, VisionConfig):
        return Images(ragged, index, card.image, augment, magnitudes=card.quantity == "mag")
    return DtDm(ragged, index, config, augment)
