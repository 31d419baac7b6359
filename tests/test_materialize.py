"""The represent stage: materialised arrays equal on-the-fly ones, open in xarray, and example figures draw."""
import json

import jsonschema
import numpy as np
import pytest
import xarray as xr
import yaml

from astroflow.clean import clean
from astroflow.models.cnn import CNNConfig
from astroflow.models.rnn import RNNConfig
from astroflow.represent.materialize import NAMES, build, dtdm_settings, materialize
from astroflow.sources.simulate import simulate_survey
from astroflow.store import LightCurveStore, write_store
from conftest import ROOT


@pytest.fixture(scope="module")
def params():
    """The schema's defaults for the represent section with the CNN and RNN presets' dt/dm shapes, as the workflow
    sees them, at a small image size."""
    schema = yaml.safe_load((ROOT / "workflow" / "schemas" / "config.schema.yaml").read_text())
    section = schema["properties"]["represent"]
    config = {}

    def fill(instance, sch):
        for key, sub in sch.get("properties", {}).items():
            if "default" in sub:
                instance.setdefault(key, json.loads(json.dumps(sub["default"])))
            if isinstance(instance.get(key), dict):
                fill(instance[key], sub)

    fill(config, section)
    jsonschema.validate(config, section)
    config |= dtdm_settings(CNNConfig(), RNNConfig())
    config["image"]["size"] = 64
    config["batch_size"] = 7  # several batches, the last one short
    return config


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    cat, _ = clean(simulate_survey(2, seed=3, min_points=20, max_points=120))
    path = tmp_path_factory.mktemp("rep") / "lc.zarr"
    write_store(cat, path, class_names=sorted(cat.objects["label"].unique()))
    return path


@pytest.mark.parametrize("name", NAMES)
def test_materialised_equals_on_the_fly(store, params, tmp_path, name):
    out = tmp_path / f"{name}.zarr"
    materialize(store, name, params, out)
    ds = xr.open_zarr(out)
    ragged = LightCurveStore(store).load()
    expected = build(name, ragged, {**params, "magnitudes": True})
    assert ds[name].dims[0] == "object" and ds[name].shape == expected.shape
    np.testing.assert_array_equal(ds[name].values, expected)
    assert list(ds.object_id.values) == list(ragged.object_id)
    assert ds.attrs["representation"] == name
    assert json.loads(ds.attrs["provenance"])["inputs"]


def test_images_are_uint8_rgb(store, params, tmp_path):
    materialize(store, "image_overlay", params, tmp_path / "img.zarr")
    img = xr.open_zarr(tmp_path / "img.zarr")["image_overlay"]
    assert img.dtype == np.uint8 and img.dims == ("object", "y", "x", "rgb") and img.shape[1:] == (64, 64, 3)


def test_unknown_representation(store, params):
    with pytest.raises(ValueError, match="unknown representation"):
        build("spectrogram", LightCurveStore(store).load(), params)


def test_saved_dtdm_arrays_are_what_the_cnn_and_rnn_read(store):
    """One source of truth: the dt/dm arrays the represent rule saves are the inputs the models build."""
    from astroflow.models import model_config
    from astroflow.train.inputs import DtDm

    ragged = LightCurveStore(store).load()
    cnn, rnn = model_config("cnn", length=40), model_config("rnn", max_steps=12)
    params = dtdm_settings(cnn, rnn)
    index = np.arange(len(ragged))
    for name, config, key in (("dtdm_cnn", cnn, "series"), ("dtdm_rnn", rnn, "steps")):
        np.testing.assert_array_equal(build(name, ragged, params), DtDm(ragged, index, config).all()[key])
