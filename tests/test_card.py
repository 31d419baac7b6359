import pytest
import torch

from astroflow.errors import InputError
from astroflow.models import card as cards
from astroflow.models.card import ModelCard


def example() -> ModelCard:
    return ModelCard(model="astromer-tiny", architecture="Astromer", kind="encoder", overrides={"dropout": 0.0},
                     bands=["B", "R"], quantity="mag", band=0, window=50, normalisation="window_mean",
                     clean={"min_points": 5}, config_hash="abc", data={"store": "0" * 64})


def test_card_round_trips_through_a_weights_only_model_file(tmp_path):
    state = {"w": torch.arange(3.0)}
    cards.save(tmp_path / "model.pt", state, example())
    loaded_state, card = cards.load(tmp_path / "model.pt")
    assert card == example()
    assert torch.equal(loaded_state["w"], state["w"])


def test_card_names_the_file_when_fields_are_wrong(tmp_path):
    values = example().to_dict() | {"colour": "red"}
    torch.save({"card": values, "state": {}}, tmp_path / "model.pt")
    with pytest.raises(InputError, match="model.pt.*unknown fields \\['colour'\\]"):
        cards.load(tmp_path / "model.pt")
    torch.save({"card": example().to_dict() | {"kind": "oracle"}, "state": {}}, tmp_path / "bad.pt")
    with pytest.raises(InputError, match="bad.pt.*kind 'oracle'"):
        cards.load(tmp_path / "bad.pt")


def test_a_file_that_is_not_a_model_is_a_clear_error(tmp_path):
    (tmp_path / "model.pt").write_bytes(b"not a model")
    with pytest.raises(InputError, match="not an astroflow PyTorch model"):
        cards.load(tmp_path / "model.pt")
