import light_curve
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from astroflow.errors import InputError
from astroflow.represent import dmdt
from astroflow.represent.dmdt import DmDt, Grid, symmetric_log_edges
from test_dtdm import curves, make

NORMS = [[], ["dt"], ["max"], ["dt", "max"]]
BORDERS = {"min_lgdt": -1.0, "max_lgdt": 2.5, "max_abs_dm": 3.0, "lgdt_size": 23, "dm_size": 24}


def theirs(reference, data, band=None):
    """light_curve.DmDt maps, one light curve at a time, in float64 as it computes them."""
    maps = []
    for t, m, b in data:
        keep = np.ones(len(t), bool) if band is None else np.asarray(b) == band
        t = np.asarray(t, dtype=np.float64)[keep]
        m = np.asarray(m, dtype=np.float32).astype(np.float64)[keep]
        maps.append(reference.points(t, m) if len(t) else np.zeros(reference.shape))
    return np.array(maps).reshape(-1, *reference.shape)


def brute(t, m, dt_edges, dm_edges):
    """All pairs i < j binned by searching the edges one pair at a time."""
    out = np.zeros((len(dt_edges) - 1, len(dm_edges) - 1))
    for i in range(len(t)):
        for j in range(i + 1, len(t)):
            a = np.searchsorted(dt_edges, t[j] - t[i], side="right") - 1
            b = np.searchsorted(dm_edges, m[j] - m[i], side="right") - 1
            if 0 <= a < out.shape[0] and 0 <= b < out.shape[1]:
                out[a, b] += 1
    return out


@settings(max_examples=40, deadline=None)
@given(curves, st.sampled_from(NORMS))
def test_log_grid_maps_equal_light_curve(data, norm):
    ours = DmDt.from_borders(**BORDERS, norm=norm)
    reference = light_curve.DmDt.from_borders(**BORDERS, norm=norm, n_jobs=1)
    np.testing.assert_allclose(ours.dt.edges, reference.dt_grid, rtol=1e-14)  # edges are for show; cells
    np.testing.assert_allclose(ours.dm.edges, reference.dm_grid, rtol=1e-14)  # come from the formula
    np.testing.assert_array_equal(ours.maps(make(data)), theirs(reference, data).astype(np.float32))
    split = ours.maps(make(data, bands=("u", "g", "r")), per_band=True)
    assert split.shape == (len(data), 3, 23, 24)
    for band in range(3):
        np.testing.assert_array_equal(split[:, band], theirs(reference, data, band).astype(np.float32))


@settings(max_examples=30, deadline=None)
@given(curves, st.sampled_from(NORMS))
def test_edge_and_linear_grids_equal_light_curve(data, norm):
    dt_edges = np.array([0.01, 0.1, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 100.0, 365.0])
    dm_edges = symmetric_log_edges(0.05, 4.0, 6)
    ours = DmDt(Grid.from_edges(dt_edges), Grid.from_edges(dm_edges), norm)
    reference = light_curve.DmDt(dt_edges, dm_edges, dt_type="asis", dm_type="asis", norm=norm, n_jobs=1)
    np.testing.assert_array_equal(ours.maps(make(data)), theirs(reference, data).astype(np.float32))
    ours = DmDt(Grid.linear(0.0, 200.0, 17), Grid.linear(-2.0, 2.0, 9), norm)
    reference = light_curve.DmDt(np.linspace(0.0, 200.0, 18), np.linspace(-2.0, 2.0, 10), dt_type="linear",
                                 dm_type="linear", norm=norm, n_jobs=1)
    np.testing.assert_array_equal(ours.maps(make(data)), theirs(reference, data).astype(np.float32))


def test_points_on_cell_edges_equal_light_curve():
    """Integer times and magnitudes put many pairs exactly on the edges of the cells."""
    rng = np.random.default_rng(5)
    data = []
    for _ in range(20):
        t = np.unique(rng.integers(0, 400, 60)).astype(float)
        data.append((t, rng.integers(10, 14, len(t)).astype(float), [0] * len(t)))
    for norm in NORMS:
        ours = DmDt.from_borders(min_lgdt=0, max_lgdt=2, max_abs_dm=2, lgdt_size=8, dm_size=4, norm=norm)
        reference = light_curve.DmDt.from_borders(min_lgdt=0, max_lgdt=2, max_abs_dm=2, lgdt_size=8, dm_size=4,
                                                  norm=norm, n_jobs=1)
        np.testing.assert_array_equal(ours.maps(make(data)), theirs(reference, data).astype(np.float32))


def test_pairs_norm_and_symmetric_edges_against_brute_force():
    rng = np.random.default_rng(2)
    data = [(np.sort(rng.uniform(0, 500, n)), rng.normal(15, 1, n).astype(np.float32)) for n in (0, 1, 2, 7, 40)]
    dt_edges, dm_edges = np.geomspace(0.1, 300, 12), symmetric_log_edges(0.1, 2.0, 5)
    np.testing.assert_array_equal(dm_edges[4:7], [-0.1, 0.0, 0.1])
    counts = DmDt(Grid.from_edges(dt_edges), Grid.from_edges(dm_edges)).maps(make(data))
    pairs = DmDt(Grid.from_edges(dt_edges), Grid.from_edges(dm_edges), norm=["pairs"]).maps(make(data))
    for i, (t, m) in enumerate(data):
        want = brute(t, m.astype(np.float64), dt_edges, dm_edges)
        np.testing.assert_array_equal(counts[i], want)
        np.testing.assert_allclose(pairs[i], want / max(len(t) * (len(t) - 1) / 2, 1), rtol=1e-6)


def test_many_light_curves_across_chunks_and_flushes(monkeypatch):
    monkeypatch.setattr(dmdt, "_FLUSH", 50)
    rng = np.random.default_rng(3)
    data = [(np.sort(rng.uniform(0, 200, n)), rng.normal(15, 0.5, n), [0] * n) for n in rng.integers(0, 12, 2500)]
    ours = DmDt.from_borders(min_lgdt=-1, max_lgdt=2, max_abs_dm=2, lgdt_size=23, dm_size=24, norm=["dt"])
    assert (1 << 20) // (23 * 24) < len(data)  # more than one chunk of series
    reference = light_curve.DmDt.from_borders(min_lgdt=-1, max_lgdt=2, max_abs_dm=2, lgdt_size=23, dm_size=24,
                                              norm=["dt"], n_jobs=1)
    np.testing.assert_array_equal(ours.maps(make(data)), theirs(reference, data).astype(np.float32))


def test_short_and_constant_light_curves():
    r = make([([1.0], [15.0]), ([], []), (np.arange(0.0, 50.0, 2.0), np.full(25, 15.0))])
    maps = DmDt.from_borders(**BORDERS, norm=["dt", "max"]).maps(r)
    assert not maps[:2].any()
    zero_cell = BORDERS["dm_size"] // 2  # dm = 0 is the left edge of the middle cell
    assert maps[2, :, zero_cell].max() == 1 and not np.delete(maps[2], zero_cell, axis=1).any()


def test_bad_input_is_rejected():
    maker = DmDt.from_borders(**BORDERS)
    with pytest.raises(InputError, match="obj0.*non-finite value") as err:
        maker.maps(make([([0.0, 1.0, 2.0], [np.nan, np.nan, np.nan])]))
    assert err.value.field == "value"
    with pytest.raises(InputError, match="backwards"):
        maker.maps(make([([0.0, 2.0, 1.0], [1.0, 2.0, 3.0])]))
    with pytest.raises(InputError, match="repeated time"):
        maker.maps(make([([0.0, 1.0, 1.0], [1.0, 2.0, 3.0])]))
    repaired = maker.maps(make([([0.0, 2.0, 1.0, 1.0], [1.0, 2.0, 3.0, 4.0])]), repair=True)
    assert repaired.sum() == 3  # three distinct times, three pairs


def test_bad_settings_are_rejected():
    with pytest.raises(ValueError, match="norm"):
        DmDt.from_borders(**BORDERS, norm=["sum"])
    with pytest.raises(ValueError, match="norm"):
        DmDt.from_borders(**BORDERS, norm=["dt", "pairs"])
    with pytest.raises(ValueError, match="ascending"):
        Grid.from_edges([0.0, 2.0, 1.0])
    with pytest.raises(ValueError, match="log grid"):
        Grid.log(0.0, 1.0, 4)
