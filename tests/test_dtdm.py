import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from astroflow.errors import InputError
from astroflow.ragged import Ragged
from astroflow.represent import dtdm
from astroflow.represent.dtdm import balanced_epoch, dtdm_cnn, dtdm_rnn, series, subsample


def make(curves, bands=("g", "r")):
    """Ragged from a list of (times, values[, band codes]) per object."""
    sizes = [len(c[0]) for c in curves]
    time = np.concatenate([np.asarray(c[0], dtype=np.float64) for c in curves]) if curves else np.zeros(0)
    value = np.concatenate([np.asarray(c[1], dtype=np.float32) for c in curves]) if curves else np.zeros(0, np.float32)
    band = (np.concatenate([np.asarray(c[2] if len(c) > 2 else [0] * len(c[0]), dtype=np.int8) for c in curves])
            if curves else np.zeros(0, np.int8))
    return Ragged(time=time, value=value, error=np.full(len(time), 0.1, np.float32), band=band, row_size=sizes,
                  object_id=np.array([f"obj{i}" for i in range(len(curves))]), bands=list(bands))


# Light curves with strictly increasing MJD-like times, float32 magnitudes and band codes 0..2.
curve = st.integers(0, 40).flatmap(lambda n: st.tuples(
    st.lists(st.floats(1e-3, 50.0), min_size=n, max_size=n).map(lambda d: 55000.0 + np.cumsum(d)),
    st.lists(st.floats(10.0, 22.0, width=32), min_size=n, max_size=n),
    st.lists(st.integers(0, 2), min_size=n, max_size=n)))
curves = st.lists(curve, min_size=0, max_size=12)


def brute_cnn(t, m, length):
    out = np.zeros((2, length))
    n = len(t)
    if n < 2:
        return out, 0
    for p in range(1, min(n, length)):
        out[0, p] = t[p] - t[p - 1]
        out[1, p] = m[p] - m[p - 1]
    return out, min(n, length)


def brute_rnn(t, m, window, stride):
    diffs = [(t[i + 1] - t[i], m[i + 1] - m[i]) for i in range(len(t) - 1)]
    steps, k = [], 0
    while k * stride + window <= len(diffs):
        part = diffs[k * stride:k * stride + window]
        steps.append([d[0] for d in part] + [d[1] for d in part])
        k += 1
    return steps


def per_band(t, m, b, band):
    keep = np.asarray(b) == band
    return np.asarray(t)[keep], np.asarray(m, dtype=np.float32).astype(np.float64)[keep]


def check_cnn(data, length):
    r = make(data, bands=("u", "g", "r"))
    merged, split = dtdm_cnn(r, length), dtdm_cnn(r, length, per_band=True)
    assert merged.values.shape == (len(data), 2, length) and split.values.shape == (len(data), 3, 2, length)
    for i, (t, m, b) in enumerate(data):
        want, n = brute_cnn(t, np.asarray(m, dtype=np.float32).astype(np.float64), length)
        np.testing.assert_array_equal(merged.values[i], want.astype(np.float32))
        assert merged.length[i] == n and merged.mask[i].sum() == n and merged.mask[i, :n].all()
        for band in range(3):
            want, n = brute_cnn(*per_band(t, m, b, band), length)
            np.testing.assert_array_equal(split.values[i, band], want.astype(np.float32))
            assert split.length[i, band] == n and split.mask[i, band].sum() == n


def check_rnn(data, window, stride):
    r = make(data, bands=("u", "g", "r"))
    merged, split = dtdm_rnn(r, window, stride), dtdm_rnn(r, window, stride, per_band=True)
    assert merged.values.shape[-1] == 2 * window
    for i, (t, m, b) in enumerate(data):
        want = brute_rnn(t, np.asarray(m, dtype=np.float32).astype(np.float64), window, stride)
        assert merged.length[i] == len(want) and merged.mask[i].sum() == len(want)
        np.testing.assert_array_equal(merged.values[i, :len(want)],
                                      np.asarray(want, dtype=np.float32).reshape(-1, 2 * window))
        assert not merged.values[i, len(want):].any()
        for band in range(3):
            want = brute_rnn(*per_band(t, m, b, band), window, stride)
            assert split.length[i, band] == len(want)
            np.testing.assert_array_equal(split.values[i, band, :len(want)],
                                          np.asarray(want, dtype=np.float32).reshape(-1, 2 * window))


@settings(max_examples=60, deadline=None)
@given(curves, st.integers(1, 30))
def test_cnn_matches_brute_force(data, length):
    check_cnn(data, length)


@settings(max_examples=60, deadline=None)
@given(curves, st.integers(1, 5), st.integers(1, 3))
def test_rnn_matches_brute_force(data, window, stride):
    check_rnn(data, window, stride)


def test_runs_of_series_join_up(monkeypatch):
    """Many light curves, processed in runs of 7 series (per band: runs that split objects)."""
    monkeypatch.setattr(dtdm, "CHUNK", 7)
    rng = np.random.default_rng(4)
    data = [(np.sort(rng.uniform(0, 100, n)), rng.normal(15, 1, n), rng.integers(0, 3, n))
            for n in rng.integers(0, 30, 100)]
    check_cnn(data, 20)
    check_rnn(data, 4, 2)


def test_cnn_leading_zero_padding_and_cut():
    r = make([([0.0, 1.0, 3.0, 6.0], [10.0, 11.0, 10.5, 12.0]), ([0.0, 2.0, 5.0, 9.0, 14.0, 20.0], [1, 2, 3, 4, 5, 6])])
    seq = dtdm_cnn(r, length=5)
    np.testing.assert_array_equal(seq.values[0], [[0, 1, 2, 3, 0], [0, 1, -0.5, 1.5, 0]])
    np.testing.assert_array_equal(seq.mask[0], [True, True, True, True, False])
    np.testing.assert_array_equal(seq.values[1], [[0, 2, 3, 4, 5], [0, 1, 1, 1, 1]])  # cut keeps the first points
    np.testing.assert_array_equal(seq.length, [4, 5])
    assert seq.values.dtype == np.float32 and seq.mask.dtype == bool


def test_rnn_window_layout_is_four_dt_then_four_dm():
    t = np.cumsum([0, 1, 2, 3, 4, 5, 6, 7]).astype(float)  # dt = 1..7
    m = np.arange(8) * 10.0                                  # dm = 10 each
    seq = dtdm_rnn(make([(t, m)]), window=4, stride=2)
    np.testing.assert_array_equal(seq.values[0], [[1, 2, 3, 4, 10, 10, 10, 10], [3, 4, 5, 6, 10, 10, 10, 10]])
    assert seq.length[0] == 2
    assert dtdm_rnn(make([(t, m)]), max_steps=1).values.shape == (1, 1, 8)
    assert dtdm_rnn(make([(t, m)]), max_steps=5).mask[0].tolist() == [True, True, False, False, False]


def test_short_light_curves_are_all_padding():
    r = make([([5.0], [12.0]), ([], []), ([1.0, 2.0], [3.0, 3.0])])
    cnn, rnn = dtdm_cnn(r, length=4), dtdm_rnn(r, max_steps=2)
    np.testing.assert_array_equal(cnn.length, [0, 0, 2])
    assert not cnn.values[:2].any() and not cnn.mask[:2].any()
    np.testing.assert_array_equal(rnn.length, [0, 0, 0])
    assert rnn.values.shape == (3, 2, 8) and not rnn.values.any()
    assert dtdm_cnn(make([]), length=4).values.shape == (0, 2, 4)


def test_constant_flux_gives_zero_dm():
    seq = dtdm_cnn(make([(np.arange(10.0), np.full(10, 15.0))]), length=12)
    assert not seq.values[0, 1].any()
    np.testing.assert_array_equal(seq.values[0, 0, :10], [0] + [1] * 9)


def test_per_band_missing_band_is_empty():
    r = make([([0.0, 1.0, 2.0, 3.0], [1, 2, 3, 4], [0, 0, 0, 0])], bands=("g", "r"))
    seq = dtdm_cnn(r, length=6, per_band=True)
    assert seq.values.shape == (1, 2, 2, 6)
    np.testing.assert_array_equal(seq.length, [[4, 0]])
    assert not seq.values[0, 1].any()


@pytest.mark.parametrize("field, curve", [
    ("time", ([0.0, np.nan, 2.0], [1.0, 2.0, 3.0])),
    ("value", ([0.0, 1.0, 2.0], [1.0, np.inf, 3.0])),
    ("value", ([0.0, 1.0, 2.0, 3.0], [np.nan, 1.0, np.nan, 2.0], [1, 0, 1, 0])),  # an all-NaN band
])
def test_non_finite_input_is_rejected(field, curve):
    r = make([([0.0, 1.0], [1.0, 2.0]), curve])
    for make_seq in (dtdm_cnn, dtdm_rnn):
        with pytest.raises(InputError, match="obj1") as err:
            make_seq(r, per_band=True)
        assert err.value.field == field and "non-finite" in str(err.value)


def test_unsorted_times_raise_unless_repaired():
    r = make([([0.0, 1.0], [0, 0]), ([0.0, 5.0, 3.0, 9.0], [1.0, 2.0, 3.0, 4.0])])
    with pytest.raises(InputError, match="obj1.*observation 2: time goes backwards") as err:
        dtdm_cnn(r)
    assert err.value.field == "time"
    seq = dtdm_cnn(r, length=4, repair=True)
    np.testing.assert_array_equal(seq.values[1], [[0, 3, 2, 4], [0, 2, -1, 2]])


def test_repeated_times_raise_unless_merged():
    r = make([([0.0, 1.0, 1.0, 2.0], [1.0, 2.0, 4.0, 5.0])])
    with pytest.raises(InputError, match="repeated time"):
        dtdm_rnn(r)
    s = series(r, repair=True)
    np.testing.assert_array_equal(s.time, [0, 1, 2])
    np.testing.assert_array_equal(s.value, [1, 3, 5])
    # the same time in two bands is no repeat once split by band
    two = make([([0.0, 1.0, 1.0, 2.0], [1.0, 2.0, 4.0, 5.0], [0, 0, 1, 1])])
    np.testing.assert_array_equal(dtdm_cnn(two, length=3, per_band=True).length, [[2, 2]])
    with pytest.raises(InputError, match="repeated time"):
        dtdm_cnn(two, length=3)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(st.tuples(st.integers(0, 15), st.floats(10.0, 22.0, width=32), st.integers(0, 1)),
                         max_size=25), max_size=8), st.booleans())
def test_repair_sorts_and_merges_like_grouping(data, split):
    """Shuffled times with repeats: repair gives each (object[, band]) its distinct times with mean values."""
    r = make([([p[0] for p in c], [p[1] for p in c], [p[2] for p in c]) for c in data])
    s = series(r, per_band=split, repair=True)
    want_time, want_value, want_size = [], [], []
    for c in data:
        for band in ((0, 1) if split else (None,)):
            groups = {}
            for t, m, b in c:
                if band is None or b == band:
                    groups.setdefault(float(t), []).append(float(np.float32(m)))
            want_time += sorted(groups)
            want_value += [np.mean(groups[t]) for t in sorted(groups)]
            want_size.append(len(groups))
    np.testing.assert_array_equal(s.time, want_time)
    np.testing.assert_allclose(s.value, want_value, rtol=1e-12)
    np.testing.assert_array_equal(s.row_size, want_size)


def test_band_code_outside_bands_is_rejected():
    with pytest.raises(InputError, match="band code 2") as err:
        dtdm_cnn(make([([0.0, 1.0], [1.0, 2.0], [0, 2])], bands=("g", "r")), per_band=True)
    assert err.value.field == "band"


def test_subsample_keeps_every_first_or_second_point_from_an_offset():
    rng = np.random.default_rng(1)
    data = [(np.sort(rng.uniform(0, 100, n)), rng.normal(15, 1, n)) for n in rng.integers(1, 30, 300)]
    r = make(data)
    copy = rng.integers(0, 4, len(data))
    out = subsample(r, seed=7, max_offset=copy)
    steps = set()
    for i, (t, _) in enumerate(data):
        kept = out.object(i)["time"]
        assert len(kept) >= 1
        matches = [(s, o) for s in (1, 2) for o in range(min(copy[i], len(t) - 1) + 1)
                   if np.array_equal(kept, t[o::s])]
        assert matches, (i, kept, t)
        steps |= {s for s, _ in matches}
    assert steps == {1, 2}
    again = subsample(r, seed=7, max_offset=copy)
    np.testing.assert_array_equal(again.time, out.time)
    np.testing.assert_array_equal(again.row_size, out.row_size)
    assert not np.array_equal(subsample(r, seed=8, max_offset=copy).row_size, out.row_size)
    np.testing.assert_array_equal(subsample(r, seed=0, max_step=1).time, r.time)  # step 1, offset 0: unchanged


def test_balanced_epoch_counts_cap_and_copies():
    labels = np.array([0] * 50 + [1] * 7 + [2] * 3 + [-1] * 4)
    index, copy = balanced_epoch(labels, cap=20, seed=3)
    assert np.bincount(labels[index]).tolist() == [20, 20, 20] and (labels[index] >= 0).all()
    big = index[labels[index] == 0]
    assert len(set(big)) == 20 and not copy[labels[index] == 0].any()  # capped, no repeats
    uses = np.bincount(index[labels[index] == 1], minlength=57)[50:57]
    assert set(uses) <= {2, 3} and uses.sum() == 20  # 7 objects: 2 whole copies, then 6 more
    for i in range(57, 60):  # 3 objects: 6 whole copies and 2 more; the k-th use has copy k
        assert sorted(copy[index == i]) == list(range(len(copy[index == i])))
    again = balanced_epoch(labels, cap=20, seed=3)
    np.testing.assert_array_equal(again[0], index)
    np.testing.assert_array_equal(again[1], copy)
    assert not np.array_equal(balanced_epoch(labels, cap=20, seed=4)[0], index)
    assert len(balanced_epoch(np.full(5, -1), cap=3, seed=0)[0]) == 0


def test_bad_settings_are_rejected():
    r = make([([0.0, 1.0], [1.0, 2.0])])
    with pytest.raises(ValueError, match="length"):
        dtdm_cnn(r, length=0)
    with pytest.raises(ValueError, match="window"):
        dtdm_rnn(r, window=0)
    with pytest.raises(ValueError, match="max_step"):
        subsample(r, seed=0, max_step=0)
    with pytest.raises(ValueError, match="cap"):
        balanced_epoch(np.zeros(3, int), cap=0, seed=0)
