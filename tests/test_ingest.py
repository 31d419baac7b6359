"""Ingest of a bring-your-own catalogue: a malformed file stops the run or is recorded, never silently lost; shards
over files or over the objects of fewer files; the README's example as written."""
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from snakemake.utils import validate

from astroflow.datasets import resolve
from astroflow.errors import ConfigError, InputError
from astroflow.ingest import ingest_shard
from astroflow.store import LightCurveStore, build_store
from astroflow.train.split import split

ROOT = Path(__file__).resolve().parents[1]

GOOD = "ant_mjd,ant_passband,ant_mag,ant_magerr\n" + "".join(
    f"{59000 + i * 1.5},{'g' if i % 2 else 'R'},{18 + 0.1 * (i % 5)},0.05\n" for i in range(12))


def folder(tmp_path, bad: str | None = "ant_mjd,ant_passband,ant_mag,ant_magerr\n59000.1,g,eighteen,0.05\n"):
    lcs = tmp_path / "lcs"
    lcs.mkdir()
    for name in ("ZTF1", "ZTF2", "ZTF3"):
        (lcs / f"{name}.csv").write_text(GOOD)
    if bad is not None:
        (lcs / "ZTFbad.csv").write_text(bad)
    return lcs


def config(tmp_path, lcs, **dataset):
    """The data set as the ingest rule passes it (resolved, then rebuilt from its canonical settings)."""
    cfg = {"results": str(tmp_path / "results"), "datasets": {"mine": {"path": str(lcs), "format": "antares",
                                                                      **dataset}}}
    return type(spec := resolve("mine", cfg, cfg["results"]))(**spec.settings())


def test_bad_file_stops_the_run_naming_it(tmp_path):
    cfg = config(tmp_path, folder(tmp_path))
    with pytest.raises(InputError, match=r"ZTFbad\.csv:2: field 'ant_mag'"):
        ingest_shard(cfg, 0, tmp_path / "s0.zarr", tmp_path / "s0.qc.parquet")


def test_bad_file_skipped_is_recorded(tmp_path):
    cfg = config(tmp_path, folder(tmp_path), on_bad_file="skip", clean={"bands": ["g", "r"]})
    ingest_shard(cfg, 0, tmp_path / "s0.zarr", tmp_path / "s0.qc.parquet")
    qc = pd.read_parquet(tmp_path / "s0.qc.parquet")
    bad = qc.set_index("object_id").loc["ZTFbad.csv"]
    assert not bad["kept"] and bad["reason"].startswith("unreadable: ") and "eighteen" in bad["reason"]
    assert LightCurveStore(tmp_path / "s0.zarr").n_objects == 3


def test_shards_are_merged_with_their_qc(tmp_path):
    cfg = config(tmp_path, folder(tmp_path, bad=None), shards=3, clean={"bands": ["g", "r"]})
    for k in range(3):
        ingest_shard(cfg, k, tmp_path / f"{k}.zarr", tmp_path / f"{k}.qc.parquet")
    build_store("mine", [tmp_path / f"{k}.zarr" for k in range(3)],
                [tmp_path / f"{k}.qc.parquet" for k in range(3)], tmp_path / "lc.zarr", tmp_path / "qc.parquet",
                tmp_path / "summary.json")
    store = LightCurveStore(tmp_path / "lc.zarr")
    assert sorted(store.objects["object_id"]) == ["ZTF1", "ZTF2", "ZTF3"] and store.n_obs == 36
    assert len(pd.read_parquet(tmp_path / "qc.parquet")) == 3


def test_more_shards_than_files_split_the_objects_of_each_file(tmp_path):
    """4 shards over 2 files: each file's objects split over two shards, none in both; a malformed file skipped is
    recorded once, by the first shard reading it."""
    lcs = tmp_path / "lcs"
    lcs.mkdir()
    body = "".join(f"a{k}," + row for k in range(10) for row in GOOD.splitlines(keepends=True)[1:])
    (lcs / "a.csv").write_text("object_id," + GOOD.splitlines(keepends=True)[0] + body)
    (lcs / "bad.csv").write_text("object_id,time\n")
    columns = {"time": "ant_mjd", "band": "ant_passband", "value": "ant_mag", "error": "ant_magerr"}
    cfg = config(tmp_path, lcs, shards=4, format="long", options={"columns": columns}, on_bad_file="skip")
    found, unreadable = [], []
    for k in range(4):
        ingest_shard(cfg, k, tmp_path / f"{k}.zarr", tmp_path / f"{k}.qc.parquet")
        found.append(set(LightCurveStore(tmp_path / f"{k}.zarr").objects["object_id"]))
        qc = pd.read_parquet(tmp_path / f"{k}.qc.parquet")
        unreadable.append(int(qc["reason"].astype(str).str.startswith("unreadable").sum()))
    assert found[0] | found[2] == {f"a{k}" for k in range(10)} and found[0] and found[2] and not found[0] & found[2]
    assert unreadable == [0, 1, 0, 0] and not found[1] | found[3]


def test_missing_path_says_where(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        config(tmp_path, tmp_path / "nowhere")


def readme_example() -> dict:
    """The README's config for a catalogue of one's own, as written there."""
    text = (ROOT / "README.md").read_text()
    block = text[text.index("Bring your own catalogue"):]
    return yaml.safe_load(block[block.index("```yaml") + 7:block.index("```", block.index("```yaml") + 7)])


def test_the_readmes_own_catalogue_example_runs_on_one_file(tmp_path):
    """One Parquet file, eight shards: every object ingested once, labels mapped, the labels table's split column
    naming the test objects through to the split rule."""
    rng = np.random.default_rng(0)
    ids = np.arange(1001, 1013)
    types = ["RRab", "RRc", "delta Cep", "Mira"] * 3
    split_of = ["test" if i % 4 == 1 else "train" for i in range(len(ids))]
    rows = [(oid, 2455000.5 + t, band, 15 + rng.normal(0, 0.1), 0.02) for oid in ids
            for t in np.sort(rng.uniform(0, 300, 30)) for band in ("g", "r")]
    folder = tmp_path / "my_survey"
    folder.mkdir()
    pd.DataFrame(rows, columns=["oid", "hjd", "filter", "mag", "magerr"]).to_parquet(folder / "photometry.parquet")
    pd.DataFrame({"oid": ids, "type": types, "split": [s.capitalize() for s in split_of]}).to_csv(
        folder / "classes.csv", index=False)
    config = readme_example() | {"data_root": str(tmp_path), "results": str(tmp_path / "results")}
    validate(config, str(ROOT / "workflow" / "schemas" / "config.schema.yaml"))
    spec = resolve(config["dataset"], config, config["results"])
    spec = type(spec)(**spec.settings())  # as the ingest rule passes it
    assert spec.shards == 8
    shards = [tmp_path / f"{k}.zarr" for k in range(8)]
    for k, path in enumerate(shards):
        ingest_shard(spec, k, path, path.with_suffix(".qc.parquet"))
    assert sum(LightCurveStore(p).n_objects > 0 for p in shards) > 4  # the objects spread over the shards
    build_store("mine", shards, [p.with_suffix(".qc.parquet") for p in shards], tmp_path / "lc.zarr",
                tmp_path / "qc.parquet", tmp_path / "summary.json")
    store = LightCurveStore(tmp_path / "lc.zarr")
    objects = store.objects.set_index("object_id")
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert sorted(objects.index.astype(int)) == ids.tolist() and summary["observations_in"] == len(rows)
    assert store.class_names == ["CEP", "RRL", "Other"]  # the config's classes (keys sorted), then the default
    expected = dict(zip(ids.astype(str), ["RRL", "RRL", "CEP", "Other"] * 3))
    assert {i: store.class_names[c] for i, c in objects["label"].items()} == expected
    split(tmp_path / "lc.zarr", tmp_path / "split.parquet", test_fraction=0.5, split_seed=0)
    roles = pd.read_parquet(tmp_path / "split.parquet").set_index("object_id")["role"]
    assert sorted(roles.index[roles == "test"].astype(int)) == [i for i, s in zip(ids, split_of) if s == "test"]


def test_a_split_column_value_that_is_not_a_split_is_named(tmp_path):
    lcs = folder(tmp_path, bad=None)
    (tmp_path / "labels.csv").write_text("id,type,split\nZTF1,Ia,test\nZTF2,II,tset\n")
    labels = {"path": str(tmp_path / "labels.csv"), "id_column": "id", "label_column": "type", "split_column": "split"}
    cfg = config(tmp_path, lcs, labels=labels)
    with pytest.raises(InputError, match=r"labels.csv: field 'split': split 'tset' of object 'ZTF2'"):
        ingest_shard(cfg, 0, tmp_path / "s0.zarr", tmp_path / "s0.qc.parquet")
    (tmp_path / "ids.txt").write_text("ZTF1\n")
    with pytest.raises(ConfigError, match="test_ids.*give one"):
        config(tmp_path, lcs, labels=labels, test_ids=str(tmp_path / "ids.txt"))
