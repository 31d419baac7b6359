"""Data sets named in the config: where their files come from, in which format, with which labels.

A data set is one of three kinds: ``simulate`` (the embedded default survey), ``survey`` (a
registry entry that the download rule fetches) or ``path`` (bring your own catalogue: a local file
or folder). Paths may use ``${data_root}`` (config key ``data_root``, else $ASTROFLOW_DATA, else
``../shared/data`` beside the checkout) and environment variables.
"""
from __future__ import annotations

import os
import string
from dataclasses import asdict, dataclass, field
from pathlib import Path

from astroflow.errors import ConfigError

REPO = Path(__file__).resolve().parents[2]


@dataclass
class DatasetSpec:
    name: str
    kind: str                 # "simulate", "survey" or "path"
    format: str               # a module of astroflow.sources.formats
    root: Path | None         # file or folder the reader discovers units in (None until simulated/downloaded)
    options: dict = field(default_factory=dict)
    labels: dict | None = None
    test_ids: Path | None = None
    shards: int = 1
    on_bad_file: str = "raise"
    chunk_rows: int | None = None  # observations ingest reads at a time (None: each input file whole)
    clean: dict = field(default_factory=dict)     # astroflow.clean.CleanConfig settings

    def __post_init__(self):
        self.root = Path(self.root) if self.root is not None else None
        self.test_ids = Path(self.test_ids) if self.test_ids is not None else None

    def settings(self) -> dict:
        """Every field as plain values with keys sorted at every level (a rule's params: reordering the config's
        keys changes nothing, changing a setting reruns what reads the data set)."""
        return canonical({k: str(v) if isinstance(v, Path) else v for k, v in asdict(self).items()})


def canonical(value):
    """``value`` with the keys of every dict in it sorted, so equal settings compare and hash equal."""
    if isinstance(value, dict):
        return {k: canonical(value[k]) for k in sorted(value)}
    if isinstance(value, list | tuple):
        return [canonical(v) for v in value]
    return value


def data_root(config: dict) -> Path:
    root = config.get("data_root") or os.environ.get("ASTROFLOW_DATA") or REPO.parent / "shared" / "data"
    return Path(root).expanduser()


def expand_path(value: str, config: dict, key: str) -> Path:
    """Expand ``${data_root}`` and environment variables; a variable left unset is a clear error."""
    mapping = {**os.environ, "data_root": str(data_root(config))}
    try:
        text = string.Template(value).substitute(mapping)
    except KeyError as err:
        raise ConfigError(key, f"{value!r} uses ${{{err.args[0]}}}, which is not set") from None
    return Path(os.path.expanduser(text))


def resolve(name: str, config: dict, results: str | Path = "results") -> DatasetSpec:
    """The data set ``name`` of a validated config, with its paths expanded and checked."""
    datasets = config.get("datasets", {})
    if name not in datasets:
        raise ConfigError("dataset", f"no data set named {name!r}; defined: {', '.join(sorted(datasets)) or 'none'}")
    ds = datasets[name]
    key = f"datasets.{name}"
    kinds = [k for k in ("simulate", "survey", "path") if ds.get(k) is not None]
    if len(kinds) != 1:
        raise ConfigError(key, f"give exactly one of simulate, survey or path (got {kinds or 'none'})")
    kind = kinds[0]
    raw = Path(results) / name / "raw"
    options = dict(ds.get("options") or {})
    if kind == "simulate":
        fmt, root = "long", raw / "simulated"
        from astroflow.sources.simulate import PRESETS

        bands = ds["simulate"].get("bands", "macho")
        bands = list(PRESETS[bands].bands) if isinstance(bands, str) else list(bands)
        options = {"pattern": "part-*.parquet", "columns": {"label": "label"}, "bands": bands,
                   "survey": "simulated"}
    elif kind == "survey":
        from astroflow.sources.registry import get_survey

        survey = get_survey(ds["survey"])
        fmt, root = ds.get("format") or survey.format, raw / "downloaded" / survey.root
    else:
        if not ds.get("format"):
            raise ConfigError(f"{key}.format", "a data set given by path needs its format")
        fmt, root = ds["format"], expand_path(ds["path"], config, f"{key}.path")
        if not root.exists():
            raise ConfigError(f"{key}.path", f"{root} does not exist; place the files there or set data_root / "
                                             "$ASTROFLOW_DATA")
    labels = dict(ds["labels"]) if ds.get("labels") else None
    if labels and labels.get("path"):
        labels["path"] = expand_path(labels["path"], config, f"{key}.labels.path")
    test_ids = expand_path(ds["test_ids"], config, f"{key}.test_ids") if ds.get("test_ids") else None
    if test_ids and labels and labels.get("split_column"):
        raise ConfigError(f"{key}.test_ids", "the test objects are named by labels.split_column already: give one")
    return DatasetSpec(name=name, kind=kind, format=fmt, root=root, options=options,
                       labels=labels, test_ids=test_ids, shards=int(ds.get("shards", 1)),
                       on_bad_file=ds.get("on_bad_file", "raise"), chunk_rows=ds.get("chunk_rows"),
                       clean=dict(ds.get("clean") or {}))
