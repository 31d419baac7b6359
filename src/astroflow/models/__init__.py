"""Model registry: a preset name gives an architecture and its config; ``build`` makes the model.

Two kinds. Encoders (the Astromer family, pretrained by masked reconstruction, then given a head: heads.py) take
a batch dict of (B, L) window tensors (time, value, error, band, mask; see represent/windows.py), return from
``forward`` the list of their hidden states (B, L, D), have ``n_hidden`` (that list's length), ``config``
(``config.dim`` is D), and ``reconstruct(hidden, batch)`` giving each point's predicted value. Classifiers (the
RNN and CNN on dt/dm, image models) map their own batch (train/inputs.py) straight to class logits; their
configs have ``n_classes`` and ``n_bands``, filled in from the data.
"""
from __future__ import annotations

import math
import types
import typing
from dataclasses import fields, replace

import torch
from torch import nn

from astroflow.errors import ConfigError
from astroflow.models import cnn, rnn, vision
from astroflow.models.astromer import ASTROMER1, ASTROMER2, TINY, Astromer, AstromerConfig
from astroflow.models.moe import AstroMoE, AstroMoEConfig
from astroflow.models.multiband import JointEncoder, PerBandConfig, PerBandFusion


def _as(config_type: type, base: AstromerConfig, **extra) -> AstromerConfig:
    """A preset of ``config_type`` with ``base``'s sizes and the ``extra`` settings."""
    sizes = {f.name: getattr(base, f.name) for f in fields(AstromerConfig)}
    return config_type(**{**sizes, **extra})


PRESETS: dict[str, tuple[type[nn.Module], AstromerConfig]] = {
    # The tiny Astromer folds its inputs at the periodogram's best period and reads the periodogram peaks in its head
    # (issue 10: macro-F1 0.21 -> 0.54 on the simulated survey); astromer1/2 are the papers' models as they are.
    "astromer-tiny": (Astromer, _as(AstromerConfig, TINY, phase_harmonics=4, features="period")),
    # The hybrid (ATAT-like): the tiny Astromer's embedding and every light-curve feature in one head.
    "hybrid": (Astromer, _as(AstromerConfig, TINY, features="all")),
    "astromer1": (Astromer, ASTROMER1),
    "astromer2": (Astromer, ASTROMER2),
    "astromoe-tiny": (AstroMoE, _as(AstroMoEConfig, TINY, n_bands=6)),
    "astromoe": (AstroMoE, _as(AstroMoEConfig, ASTROMER2, n_bands=6)),  # ELAsTiCC-like: 6 bands
    "multiband-perband-tiny": (PerBandFusion, _as(PerBandConfig, TINY, n_bands=2)),
    "multiband-perband": (PerBandFusion, _as(PerBandConfig, ASTROMER2, n_bands=2)),  # MACHO: B and R
    "multiband-joint-tiny": (JointEncoder, _as(AstromerConfig, TINY, n_bands=2)),
    "multiband-joint": (JointEncoder, _as(AstromerConfig, ASTROMER2, n_bands=2)),
}
# Every encoder with hierarchical stochastic attention instead of softmax attention (models/stochastic_attention.py),
# trained with it: the models of the uncertainty methods hsa and ha_mc_dropout.
HSA_SUFFIX = "-hsa"
PRESETS |= {name + HSA_SUFFIX: (cls, replace(config, attention="hsa")) for name, (cls, config) in PRESETS.items()}

CLASSIFIERS: dict[str, tuple[type[nn.Module], object]] = {
    **{name: (rnn.DtDmGRU, config) for name, config in rnn.PRESETS.items()},
    **{name: (cnn.DtDmCNN, config) for name, config in cnn.PRESETS.items()},
    **{name: (vision.ImageClassifier, config) for name, config in vision.PRESETS.items()},
}


def names() -> list[str]:
    """The preset names."""
    return list(PRESETS) + list(CLASSIFIERS)


def kind(name: str) -> str:
    """``encoder`` (pretrained, then fine-tuned with a head) or ``classifier`` (trained as it is)."""
    _entry(name)
    return "encoder" if name in PRESETS else "classifier"


def _entry(name: str) -> tuple[type[nn.Module], object]:
    if name in PRESETS:
        return PRESETS[name]
    if name in CLASSIFIERS:
        return CLASSIFIERS[name]
    raise ConfigError("model", f"unknown model {name!r}; presets: {', '.join(names())}")


def architecture(name: str) -> type[nn.Module]:
    """The class preset ``name`` builds."""
    return _entry(name)[0]


def model_config(name: str, **overrides):
    """The config of preset ``name`` with ``overrides`` (e.g. n_bands=6, dropout=0.0) applied, each checked
    against the config dataclass: its type, and its range (sizes positive; rates in [0, 1))."""
    config = _entry(name)[1]
    hints = typing.get_type_hints(type(config))
    for key, value in overrides.items():
        if key not in hints:
            raise ConfigError(f"model_overrides.{name}.{key}",
                              f"not a setting of model {name!r} (settings: {', '.join(sorted(hints))})")
        problem = _check_value(value, hints[key], key, getattr(config, key))
        if problem:
            raise ConfigError(f"model_overrides.{name}.{key}", f"{value!r} {problem}")
    return replace(config, **overrides)


RATES = ("dropout", "drop_path_rate")  # probabilities: in [0, 1)
# 0 means none: single-band, not yet known, no fusion, no period folding
COUNTS_FROM_ZERO = ("n_bands", "n_classes", "fusion_layers", "phase_harmonics")
MAX_PARAMETERS = 1_000_000_000  # 4 GB of float32 weights, 30 times the largest preset: more is a crafted file


def _check_value(value, hint, key: str, default) -> str | None:
    """Why ``value`` does not fit a config field of type ``hint`` (None when it does)."""
    if not _is(value, hint):
        return f"is not of type {getattr(hint, '__name__', None) or str(hint).replace('typing.', '')}"
    numbers = [value] if isinstance(value, int | float) and not isinstance(value, bool) else (
        list(value) if isinstance(value, list | tuple) else [])
    for number in numbers:
        if key in RATES and not 0 <= number < 1:
            return "must be in [0, 1)"
        if key not in RATES and isinstance(number, int) and number < (0 if key in COUNTS_FROM_ZERO else 1):
            return "must be a positive integer" if key not in COUNTS_FROM_ZERO else "must be >= 0"
        if key not in RATES and isinstance(number, float) and not (number > 0 and math.isfinite(number)):
            return "must be positive and finite"
    return None


def _is(value, hint) -> bool:
    """Whether ``value`` is of the (simple) type ``hint``: int, float, bool, str, None, tuple[X, ...], unions."""
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        return any(_is(value, h) for h in typing.get_args(hint))
    if hint is type(None):
        return value is None
    if typing.get_origin(hint) is tuple:
        return isinstance(value, list | tuple) and len(value) > 0 and all(_is(v, typing.get_args(hint)[0])
                                                                            for v in value)
    if hint is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, hint)


def check_size(name: str, **overrides) -> None:
    """Refuse settings that would build a model of more than MAX_PARAMETERS weights, counted on the meta device
    (nothing allocated), before a crafted model file or config can ask for hundreds of GB."""
    config = model_config(name, **overrides)
    with torch.device("meta"):
        model = _entry(name)[0](config)
    size = sum(p.numel() for p in model.parameters()) + sum(b.numel() for b in model.buffers())
    if size > MAX_PARAMETERS:
        raise ConfigError(f"model_overrides.{name}", f"{overrides} build a model of {size:,} weights, more than "
                          f"{MAX_PARAMETERS:,}")


def build(name: str, **overrides) -> nn.Module:
    """A freshly initialised model of preset ``name``; seed torch first for identical weights."""
    config = model_config(name, **overrides)
    return architecture(name)(config)
