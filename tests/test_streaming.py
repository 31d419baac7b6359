"""Out-of-core reading: streamed batches equal the in-memory path's when the store fits, stay a function of (seed,
step) when it does not, hold at most the buffer, and come out the same from DataLoader worker processes."""
import itertools

import numpy as np
import pyarrow.parquet as pq
import pytest

from astroflow.catalogue import Catalogue
from astroflow.errors import ConfigError
from astroflow.ragged import concat
from astroflow.sources.simulate import simulate_survey
from astroflow.store import LightCurveStore, StoreBlocks, write_store
from astroflow.tables import join_parquet
from astroflow.train.data import Windows
from astroflow.train.streaming import StreamConfig, Streamed, blockwise
from astroflow.train.tasks import Classification, MaskedReconstruction
from astroflow.train.trainer import StepBatches


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> LightCurveStore:
    cat: Catalogue = simulate_survey(6, bands="lsst", seed=3, min_points=30, max_points=300)
    path = tmp_path_factory.mktemp("stream") / "lc.zarr"
    write_store(cat, path, chunk_obs=512, shard_obs=2048)
    return LightCurveStore(path)


def windows(ragged, index):
    return Windows(ragged, index, 40, None)


def same(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for k, value in a.items():
        np.testing.assert_array_equal(value, b[k], err_msg=k)


def small_blocks(store, monkeypatch, memory_mb=1):
    """Blocks of one chunk and a buffer of three of them: the store does not fit."""
    blocks = StoreBlocks(store.path, memory_mb)
    monkeypatch.setattr(blocks, "block_obs", 512)
    block = store.objects["offset"].to_numpy() // 512
    blocks.starts = np.append(np.flatnonzero(np.diff(block, prepend=-1)), len(block))
    blocks.capacity = 3
    return blocks


def test_a_store_that_fits_gives_the_in_memory_batches(store):
    ragged = store.load()
    index = np.flatnonzero(ragged.label % 2 == 0)
    memory = MaskedReconstruction(windows(ragged, index), windows(ragged, index[:8]), batch_size=16)
    stream = Streamed(StoreBlocks(store.path, 64), index, windows, 16, seed=0)
    streamed = MaskedReconstruction(stream, windows(ragged, index[:8]), batch_size=16)
    assert stream.capacity == len(stream.order)
    for step in range(5):
        same(StepBatches(memory, 7, slice(None))[step], StepBatches(streamed, 7, slice(None))[step])


def test_classification_batches_match_too(store):
    ragged = store.load()
    index = np.flatnonzero(ragged.label >= 0)
    memory = Classification(windows(ragged, index), windows(ragged, index[:5]), batch_size=12)
    streamed = Classification(Streamed(StoreBlocks(store.path, 64), index, windows, 12, seed=0),
                              windows(ragged, index[:5]), batch_size=12)
    for step in (0, 3):
        same(StepBatches(memory, 1, slice(None))[step], StepBatches(streamed, 1, slice(None))[step])


def test_a_buffer_smaller_than_the_store_streams_every_block_in_seeded_order(store, monkeypatch):
    index = np.arange(store.n_objects)
    blocks = small_blocks(store, monkeypatch)
    assert len(blocks) > 6
    stream = Streamed(blocks, index, windows, 4, seed=5)
    assert stream.capacity == 3
    resident = [tuple(stream.resident(s)) for s in range(0, len(blocks) * stream.steps_per_block,
                                                         stream.steps_per_block)]
    assert all(1 <= len(r) <= 3 for r in resident)
    assert set().union(*map(set, resident)) == set(range(len(blocks)))  # one pass visits every block
    again = Streamed(blocks, index, windows, 4, seed=5)
    other = Streamed(blocks, index, windows, 4, seed=6)
    assert [tuple(again.resident(s)) for s in range(40)] == [tuple(stream.resident(s)) for s in range(40)]
    assert [tuple(other.resident(s)) for s in range(40)] != [tuple(stream.resident(s)) for s in range(40)]


def test_streamed_batches_depend_on_the_step_only_and_name_store_objects(store, monkeypatch):
    blocks = small_blocks(store, monkeypatch)
    index = np.flatnonzero(store.objects["row_size"].to_numpy() > 0)[::2]
    task = MaskedReconstruction(Streamed(blocks, index, windows, 8, seed=2), windows(store.load(), index[:4]), 8)
    fresh = MaskedReconstruction(Streamed(blocks, index, windows, 8, seed=2), windows(store.load(), index[:4]), 8)
    in_order = [StepBatches(task, 0, slice(None))[s] for s in range(12)]
    resumed = [StepBatches(fresh, 0, slice(None))[s] for s in (9, 10, 11)]  # a run resumed at step 9
    for a, b in zip(in_order[9:], resumed):
        same(a, b)
    resident = {s: task.train.resident(s) for s in range(12)}
    ragged = store.load()
    for s, batch in enumerate(in_order):
        assert np.isin(batch["index"], index).all()
        assert np.isin(blocks.block_of(batch["index"]), resident[s]).all()
        np.testing.assert_array_equal(batch["label"], ragged.label[batch["index"]])


def test_blockwise_reads_every_object_once_in_order_with_workers(store, monkeypatch):
    blocks = small_blocks(store, monkeypatch)
    parts = list(blockwise(blocks, keep_first, workers=2))
    assert [first for first, _ in parts] == [blocks.bounds(k)[0] for k in range(len(blocks))]
    whole, joined = store.load(), concat([p for _, p in parts])
    np.testing.assert_array_equal(joined.object_id, whole.object_id)
    np.testing.assert_array_equal(joined.time, whole.time)
    np.testing.assert_array_equal(joined.value, whole.value)


def keep_first(ragged, first):
    return first, ragged


def test_worker_processes_draw_the_same_batches(store, monkeypatch):
    import torch

    blocks = small_blocks(store, monkeypatch)
    index = np.arange(store.n_objects)
    task = MaskedReconstruction(Streamed(blocks, index, windows, 8, seed=1), windows(store.load(), index[:4]), 8)
    loader = torch.utils.data.DataLoader(StepBatches(task, 3, slice(None)), batch_size=None, sampler=range(6),
                                         num_workers=2, collate_fn=lambda b: b)
    for step, batch in enumerate(loader):
        same(batch, StepBatches(task, 3, slice(None))[step])


def test_bad_settings_name_the_key():
    with pytest.raises(ConfigError, match="stream.memory_mb"):
        StreamConfig(memory_mb=0)
    with pytest.raises(ConfigError, match="stream.workers"):
        StreamConfig(workers=-1)


def test_objects_out_of_store_order_are_refused(store):
    with pytest.raises(ValueError, match="store order"):
        Streamed(StoreBlocks(store.path, 64), np.array([3, 1]), windows, 4, seed=0)


def test_load_range_is_load_of_the_range(store):
    part, ref = store.load_range(5, 17), store.load(np.arange(5, 17))
    for name in ("time", "value", "error", "band", "row_size", "label", "object_id"):
        np.testing.assert_array_equal(getattr(part, name), getattr(ref, name))


def test_pretraining_streams_a_store_larger_than_its_memory(tmp_path, monkeypatch):
    """A store in chunks of 256 observations read 2 blocks at a time: pretraining runs, and worker processes give
    the same weights as none."""
    import torch

    from astroflow import store as stores
    from astroflow.clean import clean
    from astroflow.sources.simulate import CLASSES
    from astroflow.train import artifacts
    from astroflow.train.pretrain import PretrainSettings, pretrain
    from astroflow.train.split import split

    cat = simulate_survey(4, seed=1, min_points=20, max_points=100)
    write_store(clean(cat)[0], tmp_path / "s.zarr", class_names=list(CLASSES), chunk_obs=256, shard_obs=1024)
    split(tmp_path / "s.zarr", tmp_path / "split.parquet", test_fraction=0.2, split_seed=0)
    monkeypatch.setattr(stores, "BUFFER_BLOCKS", 2)
    monkeypatch.setattr(stores, "BYTES_PER_OBS", 2**20 // 512)  # 1 MB holds 512 observations: two blocks
    settings = PretrainSettings(max_steps=4, batch_size=8, warmup_steps=1, eval_every=2, checkpoint_every=2)
    weights = []
    for workers in (0, 1):
        out = tmp_path / f"w{workers}"
        pretrain(tmp_path / "s.zarr", tmp_path / "split.parquet", out / "pre.pt", out / "pre.csv", out / "work",
                 model="astromer-tiny", seed=0, settings=settings, split_seed=0, validation_fraction=0.2,
                 stream=StreamConfig(memory_mb=1, workers=workers))
        weights.append(artifacts.load_model(out / "pre.pt")[0].state_dict())
    blocks = StoreBlocks(tmp_path / "s.zarr", 1)
    assert blocks.capacity == 2 and len(blocks) > 4
    assert all(torch.equal(weights[0][k], weights[1][k]) for k in weights[0])


def test_predict_encode_and_features_block_by_block_equal_the_whole(store, tmp_path, monkeypatch):
    import dataclasses

    import pandas as pd
    import torch
    import xarray as xr

    from astroflow import models
    from astroflow import store as stores
    from astroflow.features import write_features
    from astroflow.train import artifacts
    from astroflow.train.encode import encode
    from astroflow.train.predict import predict_store

    card = artifacts.new_card("astromer-tiny", store, {"phase_harmonics": 0})  # features: the test below
    torch.manual_seed(0)
    encoder = models.build("astromer-tiny", **card.overrides)
    card = dataclasses.replace(card, kind="classifier", class_names=list(store.class_names), head="mean",
                               head_hidden=[8])
    artifacts.save_model(tmp_path / "m.pt", artifacts.build_classifier(encoder, card), card)
    for name in ("whole", "blocks"):
        stream = StreamConfig() if name == "whole" else StreamConfig(memory_mb=1, workers=1)
        predict_store(tmp_path / "m.pt", store.path, tmp_path / f"{name}.parquet", stream=stream)
        encode(tmp_path / "m.pt", store.path, tmp_path / f"{name}.zarr", stream=stream)
        write_features(store.path, tmp_path / f"{name}.features.parquet", threads=1, memory_mb=stream.memory_mb)
        monkeypatch.setattr(stores, "BYTES_PER_OBS", 2**20 // 2048)  # from here, 1 MB holds 2048 observations
    assert len(StoreBlocks(store.path, 1)) > 3
    whole, blocks = pd.read_parquet(tmp_path / "whole.parquet"), pd.read_parquet(tmp_path / "blocks.parquet")
    assert len(whole) == store.n_objects
    pd.testing.assert_frame_equal(whole, blocks)
    a, b = xr.open_zarr(tmp_path / "whole.zarr"), xr.open_zarr(tmp_path / "blocks.zarr")
    np.testing.assert_array_equal(a["embedding"].values, b["embedding"].values)
    np.testing.assert_array_equal(a["object_id"].values, b["object_id"].values)
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "whole.features.parquet"),
                                  pd.read_parquet(tmp_path / "blocks.features.parquet"))


def test_encode_and_predict_read_each_blocks_feature_rows(store, tmp_path, monkeypatch):
    """A model folding at the periodogram period encodes, and a classifier also reading the periodogram features
    predicts, block by block with the features table's rows of each block, and as the same with no table (each
    block's features extracted from its light curves)."""
    import dataclasses

    import pandas as pd
    import torch
    import xarray as xr

    from astroflow import models
    from astroflow import store as stores
    from astroflow.features import write_features
    from astroflow.train import artifacts
    from astroflow.train.encode import encode
    from astroflow.train.predict import predict_store
    from astroflow.train.tabular import feature_table, with_feature_norm

    write_features(store.path, tmp_path / "f.parquet", threads=1)
    card = artifacts.new_card("astromer-tiny", store)
    table = feature_table(card, tmp_path / "f.parquet", store)
    assert table is not None  # the default tiny Astromer folds at the period
    card = with_feature_norm(card, table, np.arange(store.n_objects), head=False)
    torch.manual_seed(0)
    encoder = models.build("astromer-tiny", **card.overrides)
    artifacts.save_model(tmp_path / "m.pt", encoder, card)
    card = with_feature_norm(dataclasses.replace(card, kind="classifier", class_names=list(store.class_names),
                                                 head="layers", head_hidden=[8]), table, np.arange(store.n_objects))
    assert card.feature_norm["columns"]  # the head reads the periodogram features
    artifacts.save_model(tmp_path / "c.pt", artifacts.build_classifier(encoder, card), card)
    encode(tmp_path / "m.pt", store.path, tmp_path / "whole.zarr", features_path=tmp_path / "f.parquet")
    predict_store(tmp_path / "c.pt", store.path, tmp_path / "whole.parquet", features_path=tmp_path / "f.parquet")
    monkeypatch.setattr(stores, "BYTES_PER_OBS", 2**20 // 2048)  # 1 MB holds 2048 observations
    assert len(StoreBlocks(store.path, 1)) > 3
    for name, path in (("rows", tmp_path / "f.parquet"), ("extracted", None)):
        encode(tmp_path / "m.pt", store.path, tmp_path / f"{name}.zarr", stream=StreamConfig(memory_mb=1),
               features_path=path)
        predict_store(tmp_path / "c.pt", store.path, tmp_path / f"{name}.parquet", stream=StreamConfig(memory_mb=1),
                      features_path=path)
    whole = xr.open_zarr(tmp_path / "whole.zarr")["embedding"].values
    predicted = pd.read_parquet(tmp_path / "whole.parquet")
    assert (predicted["note"] == "").all()
    for name in ("rows", "extracted"):
        np.testing.assert_allclose(xr.open_zarr(tmp_path / f"{name}.zarr")["embedding"].values, whole, atol=1e-5)
        pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / f"{name}.parquet"), predicted, atol=1e-5)
    # Three jobs, each over a third of the objects, joined: the tables of one job, metadata and all.
    for k in range(3):
        write_features(store.path, tmp_path / f"f.part{k}.parquet", threads=1, memory_mb=1, part=k, parts=3)
        predict_store(tmp_path / "c.pt", store.path, tmp_path / f"p.part{k}.parquet", stream=StreamConfig(memory_mb=1),
                      features_path=tmp_path / "f.parquet", part=k, parts=3)
    for table in ("f", "p"):
        join_parquet([tmp_path / f"{table}.part{k}.parquet" for k in range(3)], tmp_path / f"{table}.joined.parquet")
    assert pq.read_schema(tmp_path / "f.joined.parquet").equals(pq.read_schema(tmp_path / "f.parquet"),
                                                                check_metadata=True)
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "f.joined.parquet"), pd.read_parquet(tmp_path / "f.parquet"))
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "p.joined.parquet"), predicted, atol=1e-5)


def test_shares_of_a_store_cover_its_objects_once(store, tmp_path):
    import pandas as pd

    from astroflow.features import columns, write_features

    spans = [StoreBlocks(store.path, 1, k, 4).span for k in range(4)]
    assert spans[0][0] == 0 and spans[-1][1] == store.n_objects
    assert all(a[1] == b[0] for a, b in itertools.pairwise(spans))
    assert len(StoreBlocks(store.path, 1, 0, store.n_objects + 1)) == 0  # more shares than objects: some are empty
    write_features(store.path, tmp_path / "empty.parquet", threads=1, part=0, parts=store.n_objects + 1)
    empty = pd.read_parquet(tmp_path / "empty.parquet")
    assert len(empty) == 0 and list(empty.columns) == ["object_id", *columns(list(store.bands))]
    with pytest.raises(ValueError, match="part 4 of 4"):
        StoreBlocks(store.path, 1, 4, 4)
    pd.DataFrame({"a": [1]}).to_parquet(tmp_path / "a.parquet")
    pd.DataFrame({"b": [1.0]}).to_parquet(tmp_path / "b.parquet")
    with pytest.raises(ValueError, match="another schema"):
        join_parquet([tmp_path / "a.parquet", tmp_path / "b.parquet"], tmp_path / "ab.parquet")
