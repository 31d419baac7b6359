"""Ingest of a bring-your-own catalogue: a malformed file stops the run or is recorded, never silently lost."""
import pandas as pd
import pytest

from astroflow.datasets import resolve
from astroflow.errors import ConfigError, InputError
from astroflow.ingest import ingest_shard
from astroflow.store import LightCurveStore, build_store

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


def test_more_shards_than_files_is_a_config_error(tmp_path):
    cfg = config(tmp_path, folder(tmp_path, bad=None), shards=5)
    with pytest.raises(ConfigError, match="shards"):
        ingest_shard(cfg, 0, tmp_path / "s0.zarr", tmp_path / "s0.qc.parquet")


def test_missing_path_says_where(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        config(tmp_path, tmp_path / "nowhere")
