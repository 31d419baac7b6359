"""The bad-input corpus of issue 11, through the public functions a job or a user calls: each case ends in a clear
error naming the file, key or object (or in a recorded drop), never a traceback from deep inside or a silent result.
Cases of other modules live beside their code: test_clean (absurd values), test_train_failures (NaN loss, kill,
tampered checkpoint), test_model_settings (overrides, crafted model files), test_download (truncation),
test_forest (a model file holding code)."""
import copy
from pathlib import Path

import numpy as np
import pytest
import yaml

from astroflow import models
from astroflow.cli import main
from astroflow.configcheck import check_config
from astroflow.datasets import resolve
from astroflow.errors import ConfigError, InputError
from astroflow.ingest import ingest_shard
from astroflow.ragged import Ragged
from astroflow.represent.images import render_lightcurves
from astroflow.store import atomic_path, build_store

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = ROOT / "workflow" / "schemas" / "config.schema.yaml"
DEFAULT = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
HEADER = "object_id,time,band,value,error\n"


def with_changes(*changes):
    config = copy.deepcopy(DEFAULT)
    for keys, value in changes:
        where = config
        for key in keys[:-1]:
            where = where.setdefault(key, {})
        where[keys[-1]] = value
    return config


@pytest.mark.parametrize("changes, key, problem", [
    ([(("trian",), {})], "trian", "unknown key; allowed here: data_root, dataset, datasets"),
    ([(("train", "pretrain", "max_step"), 5)], "train.pretrain.max_step", "unknown key; allowed here: aux_weight"),
    ([(("train", "models"), ["rnnn"])], r"train.models\[0\]", "'rnnn' is not one of .*'forest'"),
    ([(("train", "model_overrides"), {"rnnn": {}})], "train.model_overrides.rnnn", "'rnnn' is not one of"),
    ([(("datasets", "sim", "simulate", "seed"), -1)], "datasets.sim.simulate.seed", "-1 is less than the minimum of 0"),
    ([(("represent", "image", "grid"), [1])], "represent.image.grid", r"\[1\] is too short"),
    ([(("train", "seeds"), "0")], "train.seeds", "'0' is not of type 'array'"),
])
def test_bad_config_names_the_key_first(changes, key, problem):
    with pytest.raises(ConfigError, match=f"^config key '{key}': {problem}"):
        check_config(with_changes(*changes), SCHEMA)


def test_default_configs_pass():
    for name in ("config.yaml", "ci.yaml", "ztf_bts.yaml", "uncertainty.yaml"):
        check_config({**DEFAULT, **yaml.safe_load((ROOT / "config" / name).read_text())}, SCHEMA)


def test_schema_enumerates_every_model():
    schema = yaml.safe_load(SCHEMA.read_text())
    assert schema["properties"]["train"]["properties"]["models"]["items"]["enum"] == models.names() + ["forest"]


def test_a_grid_without_room_for_the_bands_names_the_key():
    lc = Ragged(time=np.arange(6.0), value=np.ones(6, np.float32), error=np.ones(6, np.float32),
                band=np.array([0, 1] * 3, np.int8), row_size=[6], bands=["g", "r"])
    with pytest.raises(ConfigError, match="represent.image.grid.*1x1 grid has no room for 2 bands"):
        render_lightcurves(lc, layout="grid", grid=(1, 1), size=32)


def lines(object_id, n=10, start=0.0):
    return "".join(f"{object_id},{start + i},g,{15 + 0.01 * i},0.02\n" for i in range(n))


def ingest(tmp_path, files: dict, shards=1, **dataset):
    """Run the ingest and store jobs of a data set of long CSV files (name -> text) in ``tmp_path``."""
    folder = tmp_path / "in"
    folder.mkdir()
    for name, text in files.items():
        (folder / name).write_text(text)
    config = {"results": str(tmp_path / "results"),
              "datasets": {"d": {"path": str(folder), "format": "long", "shards": shards, **dataset}}}
    out = tmp_path / "results"
    out.mkdir()
    spec = resolve("d", config, out)
    for k in range(shards):
        ingest_shard(spec, k, out / f"{k}.zarr", out / f"{k}.qc.parquet")
    build_store("d", [out / f"{k}.zarr" for k in range(shards)], [out / f"{k}.qc.parquet" for k in range(shards)],
                out / "lc.zarr", out / "qc.parquet", out / "summary.json")
    return out


def test_header_only_input_stops_at_the_store_naming_the_data_set(tmp_path):
    with pytest.raises(InputError, match=r"data set 'd' \(.*a.csv\): no objects left to store: 0 read.*only a header"):
        ingest(tmp_path, {"a.csv": HEADER})


def test_everything_cleaned_away_names_the_reason(tmp_path):
    with pytest.raises(InputError, match=r"no objects left to store: 2 read; 2 dropped as 'fewer than 5 points"):
        ingest(tmp_path, {"a.csv": HEADER + lines("x", 3) + lines("y", 2)})


def test_same_object_in_two_files_of_one_shard_is_refused_naming_both(tmp_path):
    with pytest.raises(InputError, match=r"b.csv: field 'object_id': object 'x' is also in .*a.csv"):
        ingest(tmp_path, {"a.csv": HEADER + lines("x"), "b.csv": HEADER + lines("x", start=50) + lines("y")})


def test_same_object_in_files_of_two_shards_is_refused_naming_them(tmp_path):
    with pytest.raises(InputError, match=r"object 'x' is read from files of two shards .*a.csv.*b.csv"):
        ingest(tmp_path, {"a.csv": HEADER + lines("x"), "b.csv": HEADER + lines("x", start=50) + lines("y")},
               shards=2)


def test_distinct_objects_in_two_shards_are_stored(tmp_path):
    out = ingest(tmp_path, {"a.csv": HEADER + lines("x"), "b.csv": HEADER + lines("y")}, shards=2)
    assert (out / "lc.zarr").is_dir()


def test_labels_matching_no_object_name_the_table(tmp_path):
    (tmp_path / "labels.csv").write_text("name,type\nZTF1,SN Ia\nZTF2,SN II\n")
    labels = {"path": str(tmp_path / "labels.csv"), "id_column": "name", "label_column": "type"}
    with pytest.raises(InputError, match=r"labels.csv: field 'name': none of its 2 ids matches one of the 1 objects"):
        ingest(tmp_path, {"a.csv": HEADER + lines("x")}, labels=labels)


@pytest.mark.parametrize("command", ["read", "predict"])
@pytest.mark.parametrize("options, problem", [("{bad", "not valid JSON"), ("[1]", "a JSON object")])
def test_bad_reader_options_on_the_command_line(tmp_path, capsys, command, options, problem):
    (tmp_path / "a.csv").write_text(HEADER + lines("x"))
    model = [str(tmp_path / "model.pt")] if command == "predict" else []
    assert main([command, *model, "long", str(tmp_path / "a.csv"), "--options", options]) == 1
    assert f"config key '--options': {problem}" in capsys.readouterr().err


def test_stale_temporary_stores_are_removed_when_a_job_starts(tmp_path):
    stale = tmp_path / ".s.zarr.tmp-1234abcd"
    (stale / "time").mkdir(parents=True)
    other = tmp_path / ".t.zarr.tmp-1234abcd"
    other.mkdir()
    with atomic_path(tmp_path / "s.zarr") as tmp:
        tmp.mkdir()
    assert not stale.exists() and other.exists() and (tmp_path / "s.zarr").is_dir()
