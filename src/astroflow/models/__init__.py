"""Model registry: a preset name gives an architecture and its config; ``build`` makes the model.

Two kinds. Encoders (the Astromer family, pretrained by masked reconstruction, then given a head: heads.py) take
a batch dict of (B, L) window tensors (time, value, error, band, mask; see represent/windows.py), return from
``forward`` the list of their hidden states (B, L, D), have ``n_hidden`` (that list's length), ``config``
(``config.dim`` is D), and ``reconstruct(hidden, batch)`` giving each point's predicted value. Classifiers (the
RNN and CNN on dt/dm, image models) map their own batch (train/inputs.py) straight to class logits; their
configs have ``n_classes`` and ``n_bands``, filled in from the data.
"""
from __future__ import annotations

from dataclasses import fields, replace

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
    "astromer-tiny": (Astromer, TINY),
    "astromer1": (Astromer, ASTROMER1),
    "astromer2": (Astromer, ASTROMER2),
    "astromoe-tiny": (AstroMoE, _as(AstroMoEConfig, TINY, n_bands=6)),
    "astromoe": (AstroMoE, _as(AstroMoEConfig, ASTROMER2, n_bands=6)),  # ELAsTiCC-like: 6 bands
    "multiband-perband-tiny": (PerBandFusion, _as(PerBandConfig, TINY, n_bands=2)),
    "multiband-perband": (PerBandFusion, _as(PerBandConfig, ASTROMER2, n_bands=2)),  # MACHO: B and R
    "multiband-joint-tiny": (JointEncoder, _as(AstromerConfig, TINY, n_bands=2)),
    "multiband-joint": (JointEncoder, _as(AstromerConfig, ASTROMER2, n_bands=2)),
}

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
    """The config of preset ``name`` with ``overrides`` (e.g. n_bands=6, dropout=0.0) applied."""
    config = _entry(name)[1]
    known = {f.name for f in fields(config)}
    for key in overrides:
        if key not in known:
            raise ConfigError(key, f"not a setting of model {name!r} (settings: {', '.join(sorted(known))})")
    return replace(config, **overrides)


def build(name: str, **overrides) -> nn.Module:
    """A freshly initialised model of preset ``name``; seed torch first for identical weights."""
    config = model_config(name, **overrides)
    return architecture(name)(config)
