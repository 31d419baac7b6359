"""The conda environments that `--use-conda` builds must pin exactly the project's versions."""
import ast
import functools
import importlib.metadata
import re
import sys
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


RULE = re.compile(r"^rule (\w+):\n(.*?)(?=^rule |\Z)", re.DOTALL | re.MULTILINE)
SRC = ROOT / "src"


def rule_scripts() -> list[tuple[str, Path, Path]]:
    """(rule, its conda env file, its script) of every rule that runs a script."""
    found = []
    for smk in sorted((ROOT / "workflow" / "rules").glob("*.smk")):
        for name, body in RULE.findall(smk.read_text()):
            script = re.search(r'script:\s*\n\s*"([^"]+)"', body)
            env = re.search(r'conda:\s*\n\s*"([^"]+)"', body)
            if script:
                assert env, f"rule {name} ({smk.name}) runs a script but names no conda env"
                found.append((name, (smk.parent / env.group(1)).resolve(), (smk.parent / script.group(1)).resolve()))
    return found


def module_file(module: str) -> Path | None:
    base = SRC.joinpath(*module.split("."))
    for path in (base.with_suffix(".py"), base / "__init__.py"):
        if path.is_file():
            return path
    return None


@functools.cache
def imports_of(path: Path) -> tuple[str, ...]:
    """Every module an import statement of the file names (at the top or inside functions)."""
    names = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module != "__future__":
            names += [node.module] + [f"{node.module}.{a.name}" for a in node.names]
    return tuple(names)


def third_party_imports(script: Path) -> dict[str, str]:
    """The distributions whose modules the script imports, directly or through astroflow modules: distribution ->
    the file importing it."""
    owners = distributions()
    found, seen, queue = {}, set(), [script]
    while queue:
        path = queue.pop()
        if path in seen:
            continue
        seen.add(path)
        for name in imports_of(path):
            parts = name.split(".")
            if parts[0] == "astroflow":
                queue += [f for i in range(1, len(parts) + 1) if (f := module_file(".".join(parts[:i])))]
            elif parts[0] not in sys.stdlib_module_names:
                for dist in owners.get(parts[0], [parts[0]]):
                    found.setdefault(dist.lower().replace("_", "-"), str(path.relative_to(ROOT)))
    return found


@functools.cache
def distributions() -> dict[str, list[str]]:
    return importlib.metadata.packages_distributions()


@pytest.mark.parametrize("rule, env, script", rule_scripts(), ids=lambda v: v if isinstance(v, str) else "")
def test_rule_env_covers_the_script_imports(rule, env, script):
    pinned = {PIN.match(spec).group(1).lower().replace("_", "-") for spec in env_packages(env)}
    missing = {dist: where for dist, where in third_party_imports(script).items() if dist not in pinned}
    assert not missing, f"rule {rule}: {env.name} lacks " + ", ".join(f"{d} (imported by {w})" for d, w in
                                                                      sorted(missing.items()))
