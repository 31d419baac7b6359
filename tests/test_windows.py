import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from astroflow.ragged import Ragged
from astroflow.represent.windows import capped_windows, random_windows, select_band, sequential_windows

KEYS = {"time": np.float32, "value": np.float32, "error": np.float32, "band": np.int64, "mask": np.bool_,
        "index": np.int64, "label": np.int64}


def make_ragged(sizes, n_bands=2, seed=0):
    rng = np.random.default_rng(seed)
    sizes = np.asarray(sizes, dtype=np.int64)
    n = int(sizes.sum())
    obj = np.repeat(np.arange(len(sizes)), sizes)
    time = 55000 + obj * 10_000 + np.concatenate([np.sort(rng.random(k) * 1000) for k in sizes] or [[]])
    return Ragged(time=time, value=rng.normal(18, 1, n).astype(np.float32),
                  error=rng.uniform(0.01, 0.1, n).astype(np.float32), band=rng.integers(0, n_bands, n).astype(np.int8),
                  row_size=sizes, label=np.arange(len(sizes)) % 3, bands=list("ugrizy"[:n_bands]),
                  class_names=["a", "b", "c"])


def check_batch(batch, batch_size, length):
    for key, dtype in KEYS.items():
        assert batch[key].dtype == dtype, key
        assert batch[key].shape == ((batch_size,) if key in ("index", "label") else (batch_size, length)), key
    pad = ~batch["mask"]
    for key in ("time", "value", "error", "band"):
        assert not batch[key][pad].any(), f"padding of {key} is not zero"


def zero_mean(batch):
    mask = batch["mask"]
    count = np.maximum(mask.sum(1), 1)
    for key in ("time", "value"):
        np.testing.assert_allclose(batch[key].astype(np.float64).sum(1) / count, 0, atol=1e-3)


def test_random_windows_are_consecutive_observations_with_zero_mean():
    ragged = make_ragged([500, 30, 200, 1, 0, 201])
    index = np.array([0, 1, 2, 3, 4, 5, 0])
    batch = random_windows(ragged, index, length=200, rng=1)
    check_batch(batch, 7, 200)
    zero_mean(batch)
    np.testing.assert_array_equal(batch["mask"].sum(1), [200, 30, 200, 1, 0, 200, 200])
    np.testing.assert_array_equal(batch["index"], index)
    np.testing.assert_array_equal(batch["label"], ragged.label[index])
    raw = random_windows(ragged, index, length=200, rng=1, center=False)
    for row, i in enumerate(index):
        times = raw["time"][row][raw["mask"][row]]
        lc = ragged.object(i)
        start = int(np.searchsorted(lc["time"].astype(np.float32), times[0])) if len(times) else 0
        np.testing.assert_array_equal(times, lc["time"][start:start + len(times)].astype(np.float32))
        np.testing.assert_array_equal(raw["value"][row][raw["mask"][row]], lc["value"][start:start + len(times)])
        np.testing.assert_array_equal(raw["band"][row][raw["mask"][row]], lc["band"][start:start + len(times)])
        # time is centred in float64 before the cast: the spread survives although MJD does not fit float32
        np.testing.assert_allclose(np.diff(batch["time"][row][batch["mask"][row]]), np.diff(lc["time"][start:start
                                   + len(times)]), atol=1e-4)


def test_random_windows_are_deterministic_for_a_seed_and_move_with_it():
    ragged = make_ragged([1000] * 8)
    a, b = random_windows(ragged, range(8), rng=3), random_windows(ragged, range(8), rng=3)
    for key in KEYS:
        np.testing.assert_array_equal(a[key], b[key])
    c = random_windows(ragged, range(8), rng=4, center=False)
    assert not np.array_equal(random_windows(ragged, range(8), rng=3, center=False)["time"], c["time"])


def test_short_light_curves_are_padded_at_the_end():
    batch = random_windows(make_ragged([5, 3]), [0, 1], length=8, rng=0)
    np.testing.assert_array_equal(batch["mask"], [[1] * 5 + [0] * 3, [1] * 3 + [0] * 5])


def test_per_band_windows_hold_one_band():
    ragged = make_ragged([400, 50, 10], n_bands=3)
    batch = random_windows(ragged, [0, 1, 2], length=100, rng=0, band="r")
    check_batch(batch, 3, 100)
    zero_mean(batch)
    assert set(np.unique(batch["band"][batch["mask"]])) == {2}
    n_r = [int(np.sum(ragged.object(i)["band"] == 2)) for i in range(3)]
    np.testing.assert_array_equal(batch["mask"].sum(1), np.minimum(n_r, 100))
    np.testing.assert_array_equal(batch["index"], [0, 1, 2])
    with pytest.raises(ValueError, match="not one of"):
        random_windows(ragged, [0], band="y")


def test_select_band_keeps_objects_and_drops_other_bands():
    ragged = make_ragged([40, 0, 25], n_bands=2)
    g = select_band(ragged, 0)
    assert len(g) == 3 and set(g.band) <= {0}
    np.testing.assert_array_equal(g.row_size, [np.sum(ragged.object(i)["band"] == 0) for i in range(3)])
    once, each = random_windows(g, [2, 0, 1], length=8, rng=5), random_windows(ragged, [2, 0, 1], 8, rng=5, band=0)
    for key in KEYS:
        np.testing.assert_array_equal(once[key], each[key])


def test_sequential_windows_cover_each_light_curve_once():
    ragged = make_ragged([450, 200, 1, 0, 199])
    batch = sequential_windows(ragged, [0, 1, 2, 3, 4], length=200, center=False)
    check_batch(batch, 3 + 1 + 1 + 1 + 1, 200)
    np.testing.assert_array_equal(batch["index"], [0, 0, 0, 1, 2, 3, 4])
    for i in range(5):
        rows = batch["index"] == i
        got = batch["value"][rows][batch["mask"][rows]]
        np.testing.assert_array_equal(got, ragged.object(i)["value"])
    overlapping = sequential_windows(ragged, [0], length=200, stride=100)
    np.testing.assert_array_equal(overlapping["mask"].sum(1), [200, 200, 200, 150])
    zero_mean(overlapping)


def test_capped_windows_respect_the_cap_per_band():
    ragged = make_ragged([500, 40, 0, 130], n_bands=6)
    batch = capped_windows(ragged, [0, 1, 2, 3], cap=65, rng=0)
    check_batch(batch, 4, 6 * 65)
    zero_mean(batch)
    raw = capped_windows(ragged, [0, 1, 2, 3], cap=65, rng=0, center=False)
    for row in range(4):
        bands = ragged.object(row)["band"]
        for b in range(6):
            block = slice(b * 65, (b + 1) * 65)
            mask = raw["mask"][row, block]
            assert mask.sum() == min(int(np.sum(bands == b)), 65)
            assert np.all(mask[:mask.sum()])  # real points first, padding after
            assert np.all(raw["band"][row, block][mask] == b)
            times = raw["time"][row, block][mask]
            assert np.all(np.diff(times) >= 0)
            lc_times = ragged.object(row)["time"][bands == b].astype(np.float32)
            start = int(np.searchsorted(lc_times, times[0])) if len(times) else 0
            np.testing.assert_array_equal(times, lc_times[start:start + len(times)])
    first = capped_windows(ragged, [0], cap=65, center=False)
    g = ragged.object(0)["time"][ragged.object(0)["band"] == 0][:65].astype(np.float32)
    np.testing.assert_array_equal(first["time"][0, :65], g)
    with pytest.raises(ValueError, match="does not fit"):
        capped_windows(ragged, [0], n_bands=2)


def test_bad_index_and_empty_batches():
    ragged = make_ragged([10, 20])
    with pytest.raises(IndexError):
        random_windows(ragged, [2])
    with pytest.raises(IndexError):
        sequential_windows(ragged, [-1])
    check_batch(random_windows(ragged, [], length=16, rng=0), 0, 16)
    check_batch(capped_windows(ragged, [], cap=4), 0, 8)
    nothing = make_ragged([0, 0])
    check_batch(random_windows(nothing, [0, 1], length=16, rng=0), 2, 16)
    with pytest.raises(ValueError, match="stride"):
        sequential_windows(ragged, [0], stride=0)


@settings(max_examples=40, deadline=None)
@given(sizes=st.lists(st.integers(0, 300), min_size=1, max_size=12), length=st.integers(1, 64),
       seed=st.integers(0, 2**16))
def test_window_masks_and_means_hold_for_any_light_curves(sizes, length, seed):
    ragged = make_ragged(sizes, seed=seed)
    index = np.arange(len(sizes))
    batch = random_windows(ragged, index, length=length, rng=seed)
    check_batch(batch, len(sizes), length)
    np.testing.assert_array_equal(batch["mask"].sum(1), np.minimum(sizes, length))
    zero_mean(batch)
    seq = sequential_windows(ragged, index, length=length)
    assert seq["mask"].sum() == sum(sizes)
    zero_mean(seq)
