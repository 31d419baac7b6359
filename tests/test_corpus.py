"""The survey-scale simulated corpus: shards simulated apart, in parallel, the same whatever the process count."""
import pandas as pd
import pytest

from astroflow.sources.simulate import CLASSES, shard_counts, simulate_dataset


def settings(**simulate):
    return {"n_objects": 47, "seed": 4, "min_points": 10, "max_points": 30, **simulate}


def parts(folder):
    return {p.name: pd.read_parquet(p) for p in sorted(folder.glob("part-*.parquet"))}


def test_a_corpus_is_simulated_shard_by_shard_the_same_with_any_process_count(tmp_path):
    simulate_dataset(tmp_path / "one", 3, settings(labelled=False), threads=1)
    simulate_dataset(tmp_path / "two", 3, settings(labelled=False), threads=2)
    one, two = parts(tmp_path / "one"), parts(tmp_path / "two")
    assert list(one) == ["part-0000.parquet", "part-0001.parquet", "part-0002.parquet"]
    for name in one:
        pd.testing.assert_frame_equal(one[name], two[name])
    objects = pd.read_parquet(tmp_path / "one" / "objects.parquet")
    assert len(objects) == 47 and objects["object_id"].is_unique
    ids = pd.concat(one.values())["object_id"].unique()
    assert set(ids) == set(objects["object_id"])
    assert all(p["label"].isna().all() for p in one.values())  # unlabelled corpus


def test_a_labelled_corpus_keeps_its_classes(tmp_path):
    simulate_dataset(tmp_path / "out", 3, settings())
    obs = pd.concat(parts(tmp_path / "out").values())
    assert obs["label"].notna().all() and set(obs["label"]) <= set(CLASSES)


@pytest.mark.parametrize("n, shards", [(47, 3), (1_000_003, 64), (5, 7)])
def test_shard_counts_add_up(n, shards):
    counts = [shard_counts(n, shards, k) for k in range(shards)]
    assert sum(sum(c.values()) for c in counts) == n
    sizes = [sum(c.values()) for c in counts]
    assert max(sizes) - min(sizes) <= 1
