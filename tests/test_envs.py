"""The conda environments that `--use-conda` builds must pin exactly the project's versions."""
import re
import tomllib
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
PIN = re.compile(r"^([A-Za-z0-9_.\-]+)==([^\s;]+)$")


def project_pins() -> dict[str, str]:
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pins = {}
    for req in meta["dependencies"]:
        m = PIN.match(req)
        assert m, f"pyproject dependency {req!r} is not pinned with =="
        pins[m.group(1).lower()] = m.group(2)
    return pins


def env_packages(path: Path) -> list[str]:
    env = yaml.safe_load(path.read_text())
    assert "python=3.11" in env["dependencies"], f"{path.name}: python is not pinned to 3.11"
    pip = [d for d in env["dependencies"] if isinstance(d, dict) and "pip" in d]
    assert len(pip) == 1, f"{path.name}: expected one pip section"
    return pip[0]["pip"]


ENVS = sorted((ROOT / "envs").glob("*.yaml"))


def test_envs_exist():
    assert ENVS, "no conda environments in envs/"


@pytest.mark.parametrize("path", ENVS, ids=lambda p: p.name)
def test_env_pins_match_project(path):
    pins = project_pins()
    for spec in env_packages(path):
        m = PIN.match(spec)
        assert m, f"{path.name}: {spec!r} is not pinned with =="
        name, ver = m.group(1).lower(), m.group(2)
        assert name in pins, f"{path.name}: {name} is not a project dependency"
        assert ver == pins[name], f"{path.name}: {name}=={ver} but pyproject pins {pins[name]}"


def test_every_rule_env_exists():
    for smk in (ROOT / "workflow" / "rules").glob("*.smk"):
        for env in re.findall(r'conda:\s*\n\s*"([^"]+)"', smk.read_text()):
            assert (smk.parent / env).resolve().is_file(), f"{smk.name} names missing env {env}"
