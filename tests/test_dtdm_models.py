"""The RNN (Becker et al. 2020) and CNN (Aguirre et al. 2019) classifiers on dt/dm, and their input source."""
import numpy as np
import pytest
import torch

from astroflow import models
from astroflow.errors import ConfigError
from astroflow.models.cnn import CNNConfig, DtDmCNN
from astroflow.models.rnn import DtDmGRU, RNNConfig
from astroflow.ragged import Ragged
from astroflow.train.inputs import DtDm
from test_train import easy_survey, one_thread  # noqa: F401 (autouse fixture: tiny models on one thread)

SMALL = {"rnn": RNNConfig(hidden=16, max_steps=40, n_classes=2, n_bands=2, dropout=0.0),
         "cnn": CNNConfig(channels=(8, 8), dense=16, length=80, n_classes=2, n_bands=2, dropout=0.0)}


def tensors(batch):
    return {k: torch.from_numpy(v) for k, v in batch.items()}


def build(name, config):
    return (DtDmGRU if name == "rnn" else DtDmCNN)(config)


@pytest.mark.parametrize("name", ["rnn", "cnn"])
def test_registry_builds_classifiers_of_the_data_shape(name):
    assert models.kind(name) == "classifier" and models.kind("astromer-tiny") == "encoder"
    model = models.build(name, n_bands=3, n_classes=5)
    ragged = two_band(easy_survey(4), n_bands=3)
    batch = DtDm(ragged, np.arange(len(ragged)), model.config).all()
    assert model(tensors(batch)).shape == (len(ragged), 5)


def two_band(ragged: Ragged, n_bands=2) -> Ragged:
    """The same light curves with observations dealt out to ``n_bands`` bands in turn (the last band may be empty
    for short objects, never for these)."""
    band = (np.arange(len(ragged.time)) % n_bands).astype(np.int8)
    return Ragged(time=ragged.time, value=ragged.value, error=ragged.error, band=band, row_size=ragged.row_size,
                  label=ragged.label, bands=[f"b{i}" for i in range(n_bands)], class_names=["a", "b"])


@pytest.mark.parametrize("name", ["rnn", "cnn"])
def test_source_is_reproducible_and_augments_only_training_examples(name):
    ragged = two_band(easy_survey(6))
    source = DtDm(ragged, np.arange(len(ragged)), SMALL[name], augment=True)
    rows = np.arange(8)
    first = source.random(rows, np.random.default_rng(1))
    again = source.random(rows, np.random.default_rng(1))
    plain = source.all(rows)
    for key in first:
        np.testing.assert_array_equal(first[key], again[key])
    np.testing.assert_array_equal(plain["index"], rows)
    values = "steps" if name == "rnn" else "series"
    assert not np.array_equal(first[values], plain[values])  # sub-sampled
    np.testing.assert_array_equal(source.all(rows)[values], plain[values])


def test_rnn_output_does_not_depend_on_the_room_left_after_a_light_curve():
    torch.manual_seed(0)
    ragged = two_band(easy_survey(3, points=(20, 30)))
    model = DtDmGRU(SMALL["rnn"]).eval()
    with torch.no_grad():
        short = model(tensors(DtDm(ragged, np.arange(4), SMALL["rnn"]).all()))
        long = model(tensors(DtDm(ragged, np.arange(4), RNNConfig(**{**SMALL["rnn"].__dict__, "max_steps": 60})).all()))
    torch.testing.assert_close(short, long)


def test_cnn_ignores_whatever_lies_in_the_padding():
    torch.manual_seed(0)
    ragged = two_band(easy_survey(3, points=(20, 30)))
    model = DtDmCNN(SMALL["cnn"]).eval()
    batch = tensors(DtDm(ragged, np.arange(4), SMALL["cnn"]).all())
    noisy = dict(batch, series=torch.where(batch["series_mask"][:, :, None], batch["series"], 50.0))
    with torch.no_grad():
        torch.testing.assert_close(model(batch), model(noisy))


def test_rnn_reads_only_real_steps_and_a_band_without_steps_gives_zeros():
    torch.manual_seed(0)
    model = DtDmGRU(RNNConfig(hidden=8, max_steps=10, n_classes=2, n_bands=2, dropout=0.0)).eval()
    steps = torch.randn(1, 2, 10, 8)
    mask = torch.zeros(1, 2, 10, dtype=torch.bool)
    mask[0, 0, :4] = True
    changed = steps.clone()
    changed[0, 0, 4:] = 100.0  # beyond the last real step of band 0
    changed[0, 1] = -5.0  # band 1 has no real steps at all
    with torch.no_grad():
        torch.testing.assert_close(model({"steps": steps, "steps_mask": mask}),
                                   model({"steps": changed, "steps_mask": mask}))


def test_cnn_refuses_a_length_too_short_for_its_tower():
    with pytest.raises(ValueError, match="too short"):
        DtDmCNN(CNNConfig(length=6, n_classes=2))


@pytest.mark.parametrize("name", ["rnn", "cnn"])
def test_overfits_a_tiny_batch(name):
    torch.manual_seed(0)
    ragged = two_band(easy_survey(4))
    batch = tensors(DtDm(ragged, np.arange(len(ragged)), SMALL[name]).all())
    model = build(name, SMALL[name])
    optimiser = torch.optim.Adam(model.parameters(), lr=3e-3)
    for _ in range(150):
        loss = torch.nn.functional.cross_entropy(model(batch), batch["label"])
        optimiser.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimiser.step()
    model.eval()
    assert (model(batch).argmax(dim=1) == batch["label"]).all() and float(loss.detach()) < 0.1


def test_unknown_setting_is_a_config_error():
    with pytest.raises(ConfigError, match="hiden"):
        models.build("rnn", hiden=3)
