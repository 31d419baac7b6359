"""Model settings from a config or a model file are checked against the preset's dataclass before anything is built:
types and ranges name the key; sizes are bounded before any memory is allocated."""
from dataclasses import replace

import pytest
import torch

from astroflow import models
from astroflow.errors import ConfigError, InputError
from astroflow.models.card import ModelCard
from astroflow.train import artifacts


@pytest.mark.parametrize("name, overrides, problem", [
    ("astromer-tiny", {"window": -5}, r"model_overrides.astromer-tiny.window.*-5 must be a positive integer"),
    ("astromer-tiny", {"window": 0}, r"window.*positive integer"),
    ("rnn", {"hidden": "big"}, r"model_overrides.rnn.hidden.*'big' is not of type int"),
    ("rnn", {"layers": 2.5}, r"rnn.layers.*not of type int"),
    ("rnn", {"dropout": 1.5}, r"rnn.dropout.*\[0, 1\)"),
    ("cnn", {"channels": [64, -1]}, r"cnn.channels.*positive integer"),
    ("cnn", {"channels": []}, r"cnn.channels.*not of type"),
    ("astromer-tiny", {"use_error": "yes"}, r"use_error.*not of type bool"),
    ("astromer-tiny", {"time_base": -1.0}, r"time_base.*positive"),
    ("astromer-tiny", {"n_bands": -1}, r"n_bands.*>= 0"),
    ("vit-micro", {"depth": 0}, r"vit-micro.depth.*positive"),
    ("astromer-tiny", {"widht": 3}, r"model_overrides.astromer-tiny.widht.*not a setting"),
])
def test_bad_overrides_name_the_key(name, overrides, problem):
    with pytest.raises(ConfigError, match=problem):
        models.model_config(name, **overrides)


def test_good_overrides_pass():
    assert models.model_config("cnn", channels=[8, 8], dropout=0.0).channels == [8, 8]
    assert models.model_config("vit-micro", num_heads=2, drop_path_rate=0.0).num_heads == 2
    assert models.model_config("swinv2-micro", depths=[1, 1], num_heads=[1, 2], embed_dim=None).depths == [1, 1]


def test_a_huge_model_is_refused_before_anything_is_allocated():
    with pytest.raises(ConfigError, match="more than 1,000,000,000"):
        models.check_size("astromer-tiny", heads=64, head_dim=4096, layers=64)


def crafted(tmp_path, **changes):
    torch.manual_seed(0)
    encoder = models.build("astromer-tiny")
    card = ModelCard(model="astromer-tiny", architecture="Astromer", kind="encoder", overrides={}, bands=["g"],
                     quantity="mag", band=0, window=200)
    path = tmp_path / "model.pt"
    artifacts.save_model(path, encoder, replace(card, **changes))
    return path


@pytest.mark.parametrize("changes, problem", [
    ({"overrides": {"heads": 1024, "head_dim": 4096, "layers": 48}}, "more than 1,000,000,000"),
    ({"overrides": {"layers": "two"}}, "layers.*not of type int"),
    ({"overrides": ["layers", 2]}, "must be a mapping"),
    ({"model": "astromer-huge"}, "unknown model 'astromer-huge'"),
    ({"overrides": {"layers": 3}}, "do not build the network it holds"),
])
def test_crafted_model_metadata_is_a_clear_error(tmp_path, changes, problem):
    path = crafted(tmp_path, **changes)
    with pytest.raises(InputError, match=f"model.pt.*{problem}"):
        artifacts.load_model(path)
