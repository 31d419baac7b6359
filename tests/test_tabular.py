"""Light-curve features as a network input: columns, standardisation, best period, phase folding, per-band windows."""
import numpy as np
import pandas as pd
import pytest
import torch

from astroflow.errors import ConfigError
from astroflow.features import columns
from astroflow.models.layers import phase_encoding
from astroflow.ragged import Ragged
from astroflow.train.data import Windows
from astroflow.train.tabular import WithObjectArrays, best_period, feature_columns, normalisation, object_arrays


def table(n=6, seed=0):
    rng = np.random.default_rng(seed)
    t = pd.DataFrame(rng.normal(size=(n, len(columns(["B", "R"])))) * 100, columns=columns(["B", "R"]))
    t["periodogram_period_0_B"] = [0.5, 2.0, np.nan, 0.3, 1.0, 7.0][:n]
    t["periodogram_period_s_to_n_0_B"] = [9.0, 1.0, np.nan, 2.0, 5.0, 1.0][:n]
    t["periodogram_period_0_R"] = [0.25, 3.0, np.nan, 0.6, np.nan, 8.0][:n]
    t["periodogram_period_s_to_n_0_R"] = [1.0, 4.0, np.nan, 8.0, np.nan, 3.0][:n]
    t.insert(0, "object_id", [str(i) for i in range(n)])
    return t


def test_feature_choices():
    assert feature_columns("none", ["B", "R"]) == []
    assert feature_columns("all", ["B", "R"]) == columns(["B", "R"])
    period = feature_columns("period", ["B", "R"])
    assert len(period) == 8 and all(c.startswith("periodogram_") for c in period)
    with pytest.raises(ConfigError, match="model.features"):
        feature_columns("some", ["B"])


def test_features_are_standardised_on_the_training_rows_and_missing_values_are_the_mean():
    t = table()
    cols = feature_columns("all", ["B", "R"])
    norm = normalisation(t, cols, np.array([0, 1, 3, 4]))
    x = object_arrays(t, norm, ["B", "R"])["features"]
    assert x.dtype == np.float32 and x.shape == (6, len(cols)) and np.isfinite(x).all()
    assert np.allclose(x[[0, 1, 3, 4]].mean(axis=0)[np.isfinite(t[cols].iloc[[0, 1, 3, 4]]).all().to_numpy()], 0,
                       atol=1e-5)
    assert x[2, cols.index("periodogram_period_0_B")] == 0  # NaN: the training mean
    assert np.abs(x).max() <= 10


def test_best_period_is_the_highest_peak_over_the_bands():
    assert best_period(table(), ["B", "R"]).tolist() == pytest.approx([0.5, 3.0, 0.0, 0.6, 1.0, 8.0])


def test_phase_encoding_folds_at_the_period():
    period = torch.tensor([0.37, 0.0])
    time = torch.tensor([[1000.0, 1000.0 + 0.37 * 2711, 1000.0 + 0.37 * 0.25], [1.0, 2.0, 3.0]])
    code = phase_encoding(time, period, 3)
    assert code.shape == (2, 3, 6)
    assert torch.allclose(code[0, 0], code[0, 1], atol=1e-2)  # thousands of cycles apart, same phase
    assert not torch.allclose(code[0, 0], code[0, 2], atol=0.1)
    assert (code[1] == 0).all()  # no period: nothing


def test_windows_of_every_band_apart_and_object_arrays_follow_each_example():
    ragged = Ragged(time=np.arange(10, dtype=float), value=np.arange(10, dtype=np.float32),
                    error=np.ones(10, np.float32), band=np.array([0, 1, 0, 1, 1, 1, 0, 0, 0, 1], np.int8),
                    row_size=np.array([4, 2, 4]), label=np.array([0, 1, 0]), bands=["B", "R"],
                    class_names=["a", "b"])
    arrays = {"period": np.array([1.0, 2.0, 3.0], np.float32)}
    windows = WithObjectArrays(Windows(ragged, np.array([0, 1, 2]), 8, None, apart=True), arrays)
    every = windows.all()
    assert every["index"].tolist() == [0, 0, 1, 2, 2]  # object 1 has band R only
    assert every["mask"].sum(axis=1).tolist() == [2, 2, 2, 3, 1]
    assert every["period"].tolist() == [1.0, 1.0, 2.0, 3.0, 3.0]
    drawn = windows.random(np.array([0, 1, 2, 1]), np.random.default_rng(0))
    assert drawn["index"].tolist() == [0, 1, 2, 1] and drawn["label"].tolist() == [0, 1, 0, 1]
    assert drawn["mask"].sum(axis=1)[1] == 2  # object 1: its only band
