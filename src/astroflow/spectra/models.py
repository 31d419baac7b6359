"""The spectrum models by name: the networks (one file each: vit.py, cnn.py) and the two baselines on the binned
flux vector, and the typed card a trained spectrum model is saved with."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path

from torch import nn

from astroflow.errors import ConfigError, InputError
from astroflow.spectra import cnn, inputs, vit

NETWORKS = {**vit.PRESETS, **cnn.PRESETS}
BASELINES = ("forest", "svm")


def names() -> list[str]:
    return [*NETWORKS, *BASELINES]


@dataclass
class SpectrumCard:
    """A trained spectrum model: what it is, what it reads, what it predicts and from what it learnt."""

    model: str  # a name of names()
    settings: dict  # the network's config fields (n_outputs included), or the baseline's settings
    classes: list[str]
    subclasses: list[str]  # subclass families (inputs.family)
    regression: list[str]  # regressed labels, in output order (inputs.REGRESSION)
    log1p_z: bool
    target_mean: list[float] = field(default_factory=list)  # regression targets standardised with these
    target_std: list[float] = field(default_factory=list)
    grid: list[float] = field(default_factory=list)  # start, stop, step of the training store
    frame: str = "observed"
    features_bin: int = 1  # baselines: pixels per feature
    seed: int = 0
    config_hash: str = ""
    data: dict[str, str] = field(default_factory=dict)  # sha256 of the training store and split

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict, source: str | Path) -> SpectrumCard:
        known = {f.name for f in fields(cls)}
        if set(values) - known or not {"model", "settings", "classes"} <= set(values):
            raise InputError(source, f"not a spectrum model card (fields {sorted(values)})")
        return cls(**values)


def build(card: SpectrumCard) -> nn.Module:
    """The network of a card (weights not loaded)."""
    if card.model not in NETWORKS:
        raise ConfigError("spectra.models", f"{card.model!r} is not a spectrum network; choose from {list(NETWORKS)}")
    preset = NETWORKS[card.model]
    config = replace(preset, **{k: tuple(v) if isinstance(v, list) else v for k, v in card.settings.items()})
    return vit.Spectromer(config) if isinstance(config, vit.SpectromerConfig) else cnn.SpectrumCNN(config)


def network_settings(name: str, overrides: dict, n_outputs: int) -> dict:
    """The config fields of network ``name`` with ``overrides`` and the output count."""
    if name not in NETWORKS:
        raise ConfigError("spectra.models", f"{name!r} is not one of {names()}")
    preset = NETWORKS[name]
    unknown = set(overrides) - {f.name for f in fields(preset)}
    if unknown:
        raise ConfigError(f"spectra.model_overrides.{name}", f"unknown settings {sorted(unknown)}")
    settings = asdict(replace(preset, **overrides, n_outputs=n_outputs))
    if isinstance(preset, vit.SpectromerConfig):
        _check_drawing(settings, f"spectra.model_overrides.{name}")
    return settings


def _check_drawing(settings: dict, key: str) -> None:
    """How a Spectromer draws spectra: a known kind, 1 to image_size rows, a clip percentile in [0, 50), tiles
    (its patches) that divide the image."""
    from astroflow.represent.spectrum_images import KINDS

    if settings["kind"] not in KINDS:
        raise ConfigError(f"{key}.kind", f"{settings['kind']!r} is not one of {KINDS}")
    if not (isinstance(settings["rows"], int) and 1 <= settings["rows"] <= settings["image_size"]):
        raise ConfigError(f"{key}.rows", f"must be a whole number from 1 to image_size, not {settings['rows']!r}")
    if not 0 <= settings["clip"] < 50:
        raise ConfigError(f"{key}.clip", f"must be a percentile in [0, 50), not {settings['clip']!r}")
    tile = inputs.drawing(settings)["tile"]
    if settings["kind"] == "tiles" and settings["image_size"] % tile:
        raise ConfigError(f"{key}.patch_size", f"kind tiles needs a patch size that divides image_size "
                                                 f"{settings['image_size']}, not {tile}")
