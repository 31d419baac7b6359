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
    for key, value in defaults.items():
        if key == "n_per_class":
            continue  # required by the simulator; the schema's default is the workflow's choice
        assert params[key].default == value, key
    assert set(defaults) <= set(params)
