"""The config schema documents the library's own defaults, so the two cannot drift apart."""
import dataclasses
import inspect
from pathlib import Path

import yaml

from astroflow.clean import CleanConfig
from astroflow.sources.simulate import simulate_survey

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = yaml.safe_load((ROOT / "workflow" / "schemas" / "config.schema.yaml").read_text())


def schema_defaults(section: str) -> dict:
    return {k: v.get("default") for k, v in SCHEMA["$defs"][section]["properties"].items()}


def test_clean_defaults_match_cleanconfig():
    fields = {f.name: f.default for f in dataclasses.fields(CleanConfig)}
    assert schema_defaults("clean") == fields


def test_simulate_defaults_match_simulator():
    params = inspect.signature(simulate_survey).parameters
    defaults = schema_defaults("simulate")
    corpus = {"n_objects", "labelled"}  # how the workflow runs the simulator (simulate.simulate_dataset), not its own
    for key, value in defaults.items():
        if key == "n_per_class" or key in corpus:
            continue  # required by the simulator; the schema's default is the workflow's choice
        assert params[key].default == value, key
    assert set(defaults) - corpus <= set(params)


def train_schema(section: str | None = None) -> dict:
    train = SCHEMA["properties"]["train"]["properties"]
    return train if section is None else train[section]["properties"]


def test_the_schema_owns_allowed_values_the_code_lists():
    from astroflow.models import card
    from astroflow.sources import formats

    train = train_schema()
    assert tuple(train["init"]["items"]["enum"]) == card.INITS
    assert tuple(train["band_sampling"]["enum"]) == card.SAMPLINGS
    assert tuple(train["multiband_pretraining"]["enum"]) == card.PRETRAININGS
    assert tuple(train_schema("finetune")["head"]["enum"]) == card.HEADS
    assert sorted(SCHEMA["$defs"]["dataset"]["properties"]["format"]["enum"]) == sorted(formats.names())


def test_stage_settings_defaults_are_the_schemas():
    from astroflow.train.finetune import FinetuneSettings
    from astroflow.train.forest import ForestSettings
    from astroflow.train.pretrain import PretrainSettings

    for section, settings in (("pretrain", PretrainSettings), ("finetune", FinetuneSettings),
                              ("forest", ForestSettings)):
        # train.pretrain.datasets names the job's inputs (workflow/rules/common.smk), gpus and nodes how it is launched
        # (torchrun), not settings of its training
        defaults = {k: v["default"] for k, v in train_schema(section).items() if k not in ("datasets", "gpus", "nodes")}
        made = dataclasses.asdict(settings())
        assert {k: made[k] for k in defaults} == defaults, section
        assert set(made) - set(defaults) <= {"layer_decay", "seed"}, section  # layer_decay: image models' finetune


def test_spectra_train_defaults_are_the_schemas():
    from astroflow.spectra.train import SpectraTrainConfig

    schema = SCHEMA["properties"]["spectra"]["properties"]["train"]["properties"]
    made = dataclasses.asdict(SpectraTrainConfig())
    assert {k: made[k] for k in schema} == {k: v["default"] for k, v in schema.items()}


def test_a_spectra_data_set_of_files_is_not_given_a_simulator():
    from snakemake.utils import validate

    config = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    config["spectra"]["datasets"]["real"] = {"format": "sdss", "path": "spectra/sdss"}
    validate(config, str(ROOT / "workflow" / "schemas" / "config.schema.yaml"))
    assert "simulate" not in config["spectra"]["datasets"]["real"]
    assert config["spectra"]["datasets"]["specsim"]["simulate"]["snr"] == [2.0, 30.0]  # defaults still filled in
