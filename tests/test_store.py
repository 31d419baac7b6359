import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr
import zarr
from hypothesis import given, settings
from hypothesis import strategies as st

import astroflow.store as store_module
from astroflow.catalogue import Catalogue
from astroflow.errors import InputError
from astroflow.store import LightCurveStore, merge_stores, to_ragged, write_store


def make_catalogue(n_objects=40, seed=0, bands=("g", "r", "i"), classes=("RRab", "Cepheid", "QSO"), prefix="obj"):
    """Shuffled observations (not sorted by object or time), some unlabelled objects, optional metadata."""
    rng = np.random.default_rng(seed)
    sizes = rng.integers(1, 60, n_objects)
    ids = [f"{prefix}{i:03d}" for i in range(n_objects)]
    n = int(sizes.sum())
    obs = pd.DataFrame({"object_id": np.repeat(ids, sizes), "time": 50000 + rng.random(n) * 2000,
                        "band": rng.choice(list(bands), n), "value": rng.normal(18, 1, n),
                        "error": rng.uniform(0.01, 0.2, n)}).sample(frac=1, random_state=seed)
    labels = pd.Series(rng.choice(list(classes), n_objects), dtype="string")
    labels[rng.random(n_objects) < 0.2] = pd.NA
    objects = pd.DataFrame({"object_id": ids, "label": labels, "ra": rng.uniform(0, 360, n_objects),
                            "dec": rng.uniform(-90, 90, n_objects), "split": rng.choice(["train", "test"], n_objects)})
    return Catalogue(obs=obs, objects=objects, survey="sim", bands=list(bands), sources={"a.csv": "0" * 64})


def qc_of(cat):
    return pd.DataFrame({"object_id": cat.objects["object_id"], "kept": True, "n_dropped": 0, "reason": ""})


def expected_arrays(cat, class_names):
    """What a store of ``cat`` must hold, computed with pandas rather than the store's own code."""
    order = {oid: i for i, oid in enumerate(cat.objects["object_id"])}
    obs = cat.obs.assign(o=cat.obs["object_id"].map(order)).sort_values(["o", "time"], kind="stable")
    labels = [class_names.index(x) if isinstance(x, str) else -1 for x in cat.objects["label"].astype(object)
              .where(cat.objects["label"].notna(), None)]
    return {"time": obs["time"].to_numpy(), "value": obs["value"].to_numpy(np.float32),
            "error": obs["error"].to_numpy(np.float32), "band": obs["band"].map(cat.bands.index).to_numpy(),
            "row_size": obs.groupby("o").size().reindex(range(cat.n_objects), fill_value=0).to_numpy(),
            "label": np.array(labels)}


def test_round_trip_is_exact(tmp_path):
    cat = make_catalogue()
    write_store(cat, tmp_path / "s.zarr", provenance={"config_hash": "abc"}, qc=qc_of(cat))
    store = LightCurveStore(tmp_path / "s.zarr")
    ragged = store.load()
    want = expected_arrays(cat, ["Cepheid", "QSO", "RRab"])
    assert store.class_names == ["Cepheid", "QSO", "RRab"] and store.bands == ["g", "r", "i"]
    assert ragged.time.dtype == np.float64 and ragged.value.dtype == np.float32 and ragged.band.dtype == np.int8
    for name in ("time", "value", "error", "band", "row_size", "label"):
        np.testing.assert_array_equal(getattr(ragged, name), want[name], err_msg=name)
    assert list(ragged.object_id) == list(cat.objects["object_id"])
    np.testing.assert_array_equal(store.objects["ra"], cat.objects["ra"])
    assert list(store.objects["split"]) == list(cat.objects["split"])
    assert store.attrs["provenance"] == {"config_hash": "abc", "inputs": {"a.csv": "0" * 64}}
    pd.testing.assert_frame_equal(store.qc, qc_of(cat), check_dtype=False)


def test_random_access_matches_full_load(tmp_path):
    cat = make_catalogue()
    write_store(cat, tmp_path / "s.zarr", chunk_obs=64, shard_obs=256)
    store = LightCurveStore(tmp_path / "s.zarr")
    full = store.load()
    for i in [*range(store.n_objects), 0, 7, 3, store.n_objects - 1]:  # in order, then jumping between chunks
        one = store.lightcurve(i)
        assert one["object_id"] == full.object_id[i] and one["label"] == full.label[i]
        for k, v in full.object(i).items():
            np.testing.assert_array_equal(one[k], v)
    index = [5, 2, 2, 30, 0]
    part, want = store.load(index), full.subset(index)
    for name in ("time", "value", "error", "band", "row_size", "label", "object_id"):
        np.testing.assert_array_equal(getattr(part, name), getattr(want, name))
    with pytest.raises(IndexError):
        store.load([store.n_objects])


def test_xarray_opens_the_store_with_cf_variables(tmp_path):
    cat = make_catalogue()
    write_store(cat, tmp_path / "s.zarr")
    ds = xr.open_zarr(tmp_path / "s.zarr")
    assert {"time", "mag", "mag_err", "band", "object_id", "row_size", "offset", "label", "ra", "dec",
            "split"} <= set(ds.variables)
    assert ds.sizes["obs"] == cat.n_obs and ds.sizes["object"] == cat.n_objects
    assert ds["time"].dims == ("obs",) and ds["time"].dtype == np.float64 and ds["mag"].dtype == np.float32
    assert ds["time"].attrs["units"] == "d" and ds["time"].attrs["standard_name"] == "time"
    assert ds["mag"].attrs["units"] == "mag"
    assert ds["row_size"].attrs["sample_dimension"] == "obs"
    assert ds["object_id"].attrs["cf_role"] == "timeseries_id"
    assert ds["band"].attrs["flag_meanings"] == "g r i"
    assert ds.attrs["featureType"] == "timeSeries" and ds.attrs["Conventions"] == "CF-1.11"
    assert ds.attrs["bands"] == ["g", "r", "i"] and ds.attrs["survey"] == "sim"
    assert int(ds["row_size"].sum()) == ds.sizes["obs"]
    np.testing.assert_array_equal(ds["offset"].values, np.cumsum(ds["row_size"].values) - ds["row_size"].values)
    xr.testing.assert_identical(LightCurveStore(tmp_path / "s.zarr").to_xarray(), ds)


def test_flux_store_names_its_variables(tmp_path):
    cat = make_catalogue()
    cat.quantity, cat.unit = "flux", "nJy"
    write_store(cat, tmp_path / "s.zarr")
    ds = xr.open_zarr(tmp_path / "s.zarr")
    assert "flux" in ds and "flux_err" in ds and "mag" not in ds and ds["flux"].attrs["units"] == "nJy"
    assert LightCurveStore(tmp_path / "s.zarr").load().value.dtype == np.float32


def test_failed_write_keeps_the_old_store_and_leaves_nothing_behind(tmp_path, monkeypatch):
    path = tmp_path / "s.zarr"
    write_store(make_catalogue(seed=1), path)
    before = LightCurveStore(path).load()

    def broken(path):
        raise OSError("disk full")

    monkeypatch.setattr(store_module, "consolidate", broken)
    with pytest.raises(OSError, match="disk full"):
        write_store(make_catalogue(seed=2), path)
    with pytest.raises(OSError, match="disk full"):
        write_store(make_catalogue(seed=2), tmp_path / "new.zarr")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.zarr"]
    np.testing.assert_array_equal(LightCurveStore(path).load().time, before.time)


def test_failed_swap_puts_the_old_store_back(tmp_path, monkeypatch):
    path = tmp_path / "s.zarr"
    write_store(make_catalogue(seed=1), path)
    rename = Path.rename

    def failing(self, target):
        if ".tmp-" in self.name:
            raise OSError("rename refused")
        return rename(self, target)

    monkeypatch.setattr(Path, "rename", failing)
    with pytest.raises(OSError, match="rename refused"):
        write_store(make_catalogue(seed=2), path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.zarr"]
    assert LightCurveStore(path).n_objects == make_catalogue(seed=1).n_objects


def test_overwrite_replaces_the_store(tmp_path):
    path = tmp_path / "s.zarr"
    write_store(make_catalogue(n_objects=10, seed=1), path)
    write_store(make_catalogue(n_objects=5, seed=2), path)
    assert LightCurveStore(path).n_objects == 5
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.zarr"]


def test_merge_of_shards_equals_writing_all_at_once(tmp_path):
    # Shards disagree on band order and classes, so codes must be remapped.
    a = make_catalogue(n_objects=30, seed=1, bands=("g", "r"), classes=("RRab", "QSO"), prefix="a")
    b = make_catalogue(n_objects=25, seed=2, bands=("r", "i", "g"), classes=("Cepheid",), prefix="b")
    c = make_catalogue(n_objects=20, seed=3, bands=("i",), classes=("QSO", "Mira"), prefix="c")
    for i, cat in enumerate((a, b, c)):
        write_store(cat, tmp_path / f"{i}.zarr", qc=qc_of(cat), chunk_obs=32, shard_obs=128,
                    provenance={"config_hash": "h", "inputs": {f"{i}.csv": str(i)}})
    merge_stores([tmp_path / f"{i}.zarr" for i in range(3)], tmp_path / "merged.zarr")

    whole = Catalogue(obs=pd.concat([a.obs, b.obs, c.obs]), objects=pd.concat([a.objects, b.objects, c.objects]),
                      survey="sim", bands=["g", "r", "i"], sources={})
    write_store(whole, tmp_path / "whole.zarr",
                qc=pd.concat([qc_of(a), qc_of(b), qc_of(c)], ignore_index=True), chunk_obs=32, shard_obs=128)
    merged, want = LightCurveStore(tmp_path / "merged.zarr"), LightCurveStore(tmp_path / "whole.zarr")
    assert merged.bands == want.bands and merged.class_names == want.class_names
    m, w = merged.load(), want.load()
    for name in ("time", "value", "error", "band", "row_size", "label", "object_id"):
        np.testing.assert_array_equal(getattr(m, name), getattr(w, name), err_msg=name)
    pd.testing.assert_frame_equal(merged.objects, want.objects)
    pd.testing.assert_frame_equal(merged.qc, want.qc)
    assert merged.attrs["provenance"] == {"config_hash": "h", "inputs": {"0.csv": "0", "1.csv": "1", "2.csv": "2"}}
    arr = zarr.open_array(tmp_path / "merged.zarr" / "time", mode="r")
    assert arr.chunks == (32,) and arr.shards == (128,)


def test_merge_keeps_a_class_order_all_shards_share(tmp_path):
    order = ["QSO", "RRab", "Cepheid"]
    for i in range(2):
        write_store(make_catalogue(seed=i, prefix=f"s{i}"), tmp_path / f"{i}.zarr", class_names=order)
    merge_stores([tmp_path / "0.zarr", tmp_path / "1.zarr"], tmp_path / "m.zarr")
    assert LightCurveStore(tmp_path / "m.zarr").class_names == order


def test_merge_refuses_inconsistent_shards(tmp_path):
    write_store(make_catalogue(prefix="a"), tmp_path / "a.zarr")
    write_store(make_catalogue(prefix="a"), tmp_path / "dup.zarr")
    flux = make_catalogue(prefix="f")
    flux.quantity, flux.unit = "flux", "nJy"
    write_store(flux, tmp_path / "f.zarr")
    with pytest.raises(ValueError, match="more than one shard"):
        merge_stores([tmp_path / "a.zarr", tmp_path / "dup.zarr"], tmp_path / "m.zarr")
    with pytest.raises(ValueError, match="cannot merge"):
        merge_stores([tmp_path / "a.zarr", tmp_path / "f.zarr"], tmp_path / "m.zarr")
    with pytest.raises(ValueError, match="at least one"):
        merge_stores([], tmp_path / "m.zarr")
    assert not (tmp_path / "m.zarr").exists()


def test_sharding_keeps_the_file_count_small(tmp_path):
    cat = make_catalogue(n_objects=600, seed=4)
    write_store(cat, tmp_path / "s.zarr", chunk_obs=256, shard_obs=4096)
    arr = zarr.open_array(tmp_path / "s.zarr" / "mag", mode="r")
    assert arr.chunks == (256,) and arr.shards == (4096,)
    shard_files = [p for p in (tmp_path / "s.zarr" / "mag").rglob("*") if p.is_file() and p.name != "zarr.json"]
    assert len(shard_files) == -(-cat.n_obs // 4096)
    assert len([p for p in (tmp_path / "s.zarr").rglob("*") if p.is_file()]) < 60
    with pytest.raises(ValueError, match="multiple of chunk_obs"):
        write_store(cat, tmp_path / "t.zarr", chunk_obs=1000, shard_obs=4096)


def test_empty_catalogue_gives_an_empty_store(tmp_path):
    write_store(Catalogue.empty(survey="sim"), tmp_path / "e.zarr")
    store = LightCurveStore(tmp_path / "e.zarr")
    assert store.n_objects == 0 and store.n_obs == 0
    ragged = store.load()
    assert len(ragged) == 0 and len(ragged.time) == 0
    assert xr.open_zarr(tmp_path / "e.zarr").sizes["obs"] == 0
    cat = make_catalogue()
    cat.quantity, cat.unit = "flux", "nJy"  # an empty shard's default quantity must not block the merge
    dropped = pd.DataFrame({"object_id": ["gone"], "kept": [False], "n_dropped": [3], "reason": ["too short"]})
    write_store(Catalogue.empty(survey="sim"), tmp_path / "e.zarr", qc=dropped)
    write_store(cat, tmp_path / "full.zarr", qc=qc_of(cat))
    merge_stores([tmp_path / "e.zarr", tmp_path / "full.zarr"], tmp_path / "m.zarr")
    merged = LightCurveStore(tmp_path / "m.zarr")
    assert merged.n_obs == cat.n_obs and merged.quantity == "flux" and merged.bands == cat.bands
    assert list(merged.qc["object_id"]) == ["gone", *cat.objects["object_id"]]


def test_objects_without_observations_are_kept(tmp_path):
    cat = make_catalogue(n_objects=5)
    cat.objects = pd.concat([cat.objects, pd.DataFrame({"object_id": ["lonely"], "label": ["QSO"]})],
                            ignore_index=True)
    write_store(cat, tmp_path / "s.zarr")
    store = LightCurveStore(tmp_path / "s.zarr")
    assert store.objects["row_size"].iloc[-1] == 0 and len(store.lightcurve(5)["time"]) == 0
    assert np.isnan(store.objects["ra"].iloc[-1]) and store.objects["split"].iloc[-1] == ""


def test_bad_input_gives_clear_errors(tmp_path):
    cat = make_catalogue()
    with pytest.raises(ValueError, match="label values not in class_names"):
        write_store(cat, tmp_path / "s.zarr", class_names=["QSO"])
    stray = make_catalogue()
    stray.obs.loc[stray.obs.index[0], "object_id"] = "ghost"
    with pytest.raises(ValueError, match="object_id values not in the objects table: \\['ghost'\\]"):
        to_ragged(stray)
    nan_time = make_catalogue()
    nan_time.obs.loc[nan_time.obs.index[0], "time"] = np.nan
    with pytest.raises(ValueError, match="non-finite time"):
        to_ragged(nan_time)
    unknown_band = make_catalogue()
    unknown_band.bands = ["g", "r"]
    with pytest.raises(ValueError, match="band values not in"):
        to_ragged(unknown_band)
    duplicated = make_catalogue()
    duplicated.objects = pd.concat([duplicated.objects, duplicated.objects.iloc[:1]])
    with pytest.raises(ValueError, match="repeat"):
        to_ragged(duplicated)
    assert not list(tmp_path.iterdir())
    with pytest.raises(InputError, match="no light-curve store"):
        LightCurveStore(tmp_path / "missing.zarr")
    zarr.open_group(tmp_path / "other.zarr", mode="w")
    with pytest.raises(InputError, match="not an astroflow light-curve store"):
        LightCurveStore(tmp_path / "other.zarr")


@settings(max_examples=10, deadline=None)
@given(sizes=st.lists(st.integers(0, 40), min_size=1, max_size=15), seed=st.integers(0, 2**16))
def test_any_row_sizes_round_trip_across_chunk_and_shard_boundaries(sizes, seed):
    rng = np.random.default_rng(seed)
    ids = [f"o{i}" for i in range(len(sizes))]
    n = sum(sizes)
    obs = pd.DataFrame({"object_id": np.repeat(ids, sizes), "time": rng.integers(0, 5, n) + 58000.25,
                        "band": rng.choice(["g", "r"], n), "value": rng.normal(size=n), "error": rng.random(n)})
    cat = Catalogue(obs=obs, objects=pd.DataFrame({"object_id": ids}), bands=["g", "r"])
    want = to_ragged(cat)
    with tempfile.TemporaryDirectory() as tmp:
        write_store(cat, Path(tmp) / "s.zarr", chunk_obs=4, shard_obs=16)
        store = LightCurveStore(Path(tmp) / "s.zarr")
        got = store.load()
        for name in ("time", "value", "error", "band", "row_size", "label", "object_id"):
            np.testing.assert_array_equal(getattr(got, name), getattr(want, name))
        i = int(rng.integers(0, len(sizes)))
        np.testing.assert_array_equal(store.lightcurve(i)["time"], want.object(i)["time"])
        np.testing.assert_array_equal(store.load([i]).value, want.object(i)["value"])
    times = [want.object(k)["time"] for k in range(len(sizes))]
    assert all(np.all(np.diff(t) >= 0) for t in times) and list(want.row_size) == sizes


def test_codes_of_runs_equal_codes_of_each_value():
    """A column in runs (a long table's object ids) is looked up run by run: the same codes as value by value."""
    from astroflow.catalogue import codes_in

    rng = np.random.default_rng(0)
    names = np.array([f"obj{i}" for i in range(60)] + [None], dtype=object)
    runs = pd.Series(np.repeat(names[rng.integers(0, 61, 500)], rng.integers(1, 40, 500)), dtype="str")
    categories = [f"obj{i}" for i in range(0, 70, 2)]  # some ids unknown (-1), some categories unused
    want = np.array([categories.index(v) if v in categories else -1 for v in runs.tolist()])
    np.testing.assert_array_equal(codes_in(runs, categories), want)
    np.testing.assert_array_equal(codes_in(runs.astype(object), categories), want)

