"""Data sets named in the config: kinds, ${data_root} and environment variables, clear errors."""
import pytest

from astroflow.datasets import resolve
from astroflow.errors import ConfigError


def test_data_root_from_config_and_environment(tmp_path, monkeypatch):
    (tmp_path / "survey").mkdir()
    cfg = {"datasets": {"s": {"path": "${data_root}/survey", "format": "long"}}}
    assert resolve("s", {**cfg, "data_root": str(tmp_path)}).root == tmp_path / "survey"
    monkeypatch.setenv("ASTROFLOW_DATA", str(tmp_path))
    assert resolve("s", cfg).root == tmp_path / "survey"


def test_unset_variable_is_named(tmp_path, monkeypatch):
    monkeypatch.delenv("NO_SUCH_ROOT", raising=False)
    cfg = {"datasets": {"s": {"path": "${NO_SUCH_ROOT}/x", "format": "long"}}}
    with pytest.raises(ConfigError, match=r"datasets\.s\.path.*NO_SUCH_ROOT"):
        resolve("s", cfg)


def test_exactly_one_source_kind():
    with pytest.raises(ConfigError, match="exactly one of simulate, survey or path"):
        resolve("s", {"datasets": {"s": {"format": "long"}}})
    with pytest.raises(ConfigError, match="no data set named 'x'"):
        resolve("x", {"datasets": {"s": {"simulate": {}}}})


def test_simulated_kind_reads_its_parts_with_the_preset_bands():
    spec = resolve("sim", {"datasets": {"sim": {"simulate": {"bands": "lsst"}}}}, results="out")
    assert spec.kind == "simulate" and spec.format == "long"
    assert spec.options["bands"] == ["u", "g", "r", "i", "z", "y"] and str(spec.root) == "out/sim/raw/simulated"
