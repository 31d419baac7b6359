"""The config checked against its schema before Snakemake's own validation, so that a failure starts with the keys
at fault, one line each, with the problem and (for an unknown key) the keys allowed there, not a schema dump."""
from __future__ import annotations

from pathlib import Path

import jsonschema
import yaml

from astroflow.errors import ConfigError


def check_config(config: dict, schema_path: str | Path) -> None:
    """Raise a ConfigError listing every schema error of ``config``, the most relevant first."""
    schema = yaml.safe_load(Path(schema_path).read_text())
    validator = jsonschema.validators.validator_for(schema)(schema)
    errors = sorted(validator.iter_errors(config), key=jsonschema.exceptions.relevance, reverse=True)
    if not errors:
        return
    problems = [_problem(error) for error in errors]
    key, problem = problems[0]
    raise ConfigError(key, problem + "".join(f"\nconfig key '{k}': {p}" for k, p in problems[1:]))


def _problem(error: jsonschema.ValidationError) -> tuple[str, str]:
    """The config key a schema error is about, and what is wrong there."""
    key = config_key(error.absolute_path)
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        allowed = sorted(error.schema.get("properties", {}))
        unknown = sorted(set(error.instance) - set(allowed))
        if unknown and allowed:
            return config_key([*error.absolute_path, unknown[0]]), f"unknown key; allowed here: {', '.join(allowed)}"
    if "propertyNames" in error.absolute_schema_path:  # a bad key of a mapping: name it
        key = config_key([*error.absolute_path, error.instance])
    return key or "(top level)", error.message


def config_key(path) -> str:
    """A dotted config key with list positions, e.g. train.models[0]."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out
