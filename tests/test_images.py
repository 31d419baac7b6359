"""Light-curve images: scaling, layouts, colours, degenerate input, and the fast renderer against matplotlib."""
import numpy as np
import pytest
from matplotlib.colors import to_rgb

from astroflow.errors import ConfigError, InputError
from astroflow.ragged import Ragged
from astroflow.represent.images import BAND_COLOURS, default_grid, panel_boxes, render_lightcurves
from astroflow.represent.raster import ssim


def light_curve(n_per_band=40, bands=(0, 1), seed=0, magnitudes=True) -> dict[str, np.ndarray]:
    """A noisy sinusoid per band, bands at independent times, sorted by time."""
    rng = np.random.default_rng(seed)
    time = np.concatenate([rng.uniform(0, 100, n_per_band) for _ in bands])
    band = np.repeat(bands, n_per_band)
    value = 15 + 0.2 * band + np.sin(time / 7) + rng.normal(0, 0.05, len(time))
    order = np.argsort(time, kind="stable")
    return {"time": time[order], "value": value[order], "error": np.full(len(time), 0.05), "band": band[order]}


def colour_mask(image: np.ndarray, colour, tolerance=30) -> np.ndarray:
    """Pixels close to a (fully covered) band colour."""
    return (np.abs(image.astype(int) - np.array(to_rgb(colour)) * 255) < tolerance).all(axis=-1)


def test_layouts_give_rgb_images_of_the_requested_size():
    curves = [light_curve(seed=s) for s in range(3)]
    for layout in ("overlay", "stacked", "grid"):
        images = render_lightcurves(curves, layout=layout)
        assert images.shape == (3, 256, 256, 3) and images.dtype == np.uint8
    assert render_lightcurves(curves, size=(64, 96)).shape == (3, 64, 96, 3)


def test_panel_boxes_tile_the_image():
    assert default_grid(6) == (2, 3) and default_grid(2) == (1, 2) and default_grid(1) == (1, 1)
    grid = panel_boxes("grid", 6, 256, 255)
    assert grid[4] == (85.0, 128.0, 85.0, 128.0)
    stacked = panel_boxes("stacked", 2, 256, 256)
    assert stacked == [(0.0, 0.0, 256.0, 128.0), (0.0, 128.0, 256.0, 128.0)]
    with pytest.raises(ConfigError, match="room"):
        panel_boxes("grid", 6, 256, 256, grid=(2, 2))
    with pytest.raises(ValueError, match="layout"):
        panel_boxes("mosaic", 2, 256, 256)


def test_overlay_draws_each_band_in_its_colour():
    image = render_lightcurves([light_curve(bands=(0,))], n_bands=2, line_width=2, marker_size=5)[0]
    assert colour_mask(image, BAND_COLOURS[0]).sum() > 200
    assert colour_mask(image, BAND_COLOURS[1]).sum() == 0
    both = render_lightcurves([light_curve()], line_width=2, marker_size=5)[0]
    assert colour_mask(both, BAND_COLOURS[0]).sum() > 100 and colour_mask(both, BAND_COLOURS[1]).sum() > 100


def test_missing_band_is_a_blank_panel():
    stacked = render_lightcurves([light_curve(bands=(0,))], layout="stacked", n_bands=2)[0]
    assert (stacked[128:] == 255).all() and (stacked[:128] < 255).any()
    grid = render_lightcurves([light_curve(bands=(0, 1, 2, 4, 5))], layout="grid", n_bands=6)[0]
    assert (grid[128:, :85] == 255).all()  # band 3: second row, first column
    for row, col in [(0, 0), (0, 1), (0, 2), (1, 1), (1, 2)]:
        assert (grid[row * 128:(row + 1) * 128, col * 85:(col + 1) * 85] < 255).any()


def test_object_without_observations_is_blank():
    empty = {"time": [], "value": [], "error": [], "band": []}
    images = render_lightcurves([light_curve(), empty], n_bands=2)
    assert (images[1] == 255).all() and (images[0] < 255).any()


def test_one_point_light_curve_is_centred():
    one = {"time": [5.0], "value": [12.0], "error": [0.0], "band": [0]}
    image = render_lightcurves([one], size=255, n_bands=1, marker_size=1.5)[0]
    drawn = np.nonzero((image < 255).any(axis=-1))
    assert np.unravel_index(np.argmin(image.sum(axis=-1)), image.shape[:2]) == (127, 127)
    assert set(drawn[0]) == set(drawn[1]) == {126, 127, 128}


def test_constant_values_are_centred_with_error_bars_setting_the_scale():
    flat = {"time": np.arange(10.0), "value": np.full(10, 3.0), "error": np.linspace(0.1, 0.2, 10),
            "band": np.zeros(10, int)}
    image = render_lightcurves([flat], size=221, n_bands=1, line_width=1, marker_size=0, errorbar_width=1)[0]
    rows = np.nonzero((image < 250).any(axis=(1, 2)))[0]
    # Values at y = 0.5 (row 110); the largest error bar spans 0..1, i.e. rows 10..210 with limits -0.05..1.05.
    assert rows.min() == 10 and rows.max() == 210
    assert (image[110] < 128).any()


def test_magnitudes_put_brighter_up_and_fluxes_do_not_flip():
    two = {"time": [0.0, 1.0], "value": [10.0, 12.0], "error": [0.0, 0.0], "band": [0, 0]}

    def first_point_row(magnitudes):
        image = render_lightcurves([two], n_bands=1, magnitudes=magnitudes, line_width=0, marker_size=5)[0]
        left = image[:, :128].sum(axis=-1)
        return np.unravel_index(np.argmin(left), left.shape)[0]

    assert first_point_row(True) < 128 < first_point_row(False)


def test_errors_scale_with_values():
    curve = {"time": [0.0, 1.0, 2.0], "value": [0.0, 1.0, 2.0], "error": [0.5, 0.25, 0.0], "band": [0, 0, 0]}
    image = render_lightcurves([curve], size=221, n_bands=1, magnitudes=False, line_width=0, marker_size=0)[0]
    def rows(columns):
        return np.nonzero(image[:, columns].min(axis=(1, 2)) < 200)[0]

    # The middle point: y = 0.5 with error 0.25 / 2, so y in 0.375..0.625, rows 85.4..135.6 of column 110.
    assert (rows(slice(110, 111))[[0, -1]] == [85, 135]).all()
    # The first point: y = 0 with error 0.5 / 2, so y in -0.25..0.25; its bar runs from row 160.7 off the bottom.
    assert (rows(slice(8, 13))[[0, -1]] == [161, 220]).all()


def test_ragged_input_and_per_object_dicts_give_the_same_images():
    curves = [light_curve(seed=s) for s in range(3)]
    ragged = Ragged(time=np.concatenate([c["time"] for c in curves]),
                    value=np.concatenate([c["value"] for c in curves]).astype(np.float32),
                    error=np.concatenate([c["error"] for c in curves]).astype(np.float32),
                    band=np.concatenate([c["band"] for c in curves]).astype(np.int8),
                    row_size=[len(c["time"]) for c in curves], bands=["B", "R"])
    np.testing.assert_array_equal(render_lightcurves(ragged, batch_size=2), render_lightcurves(curves))


def test_rendering_is_deterministic():
    curves = [light_curve(seed=s) for s in range(4)]
    np.testing.assert_array_equal(render_lightcurves(curves, layout="grid"), render_lightcurves(curves, layout="grid"))


@pytest.mark.parametrize("field, bad", [("value", np.nan), ("time", np.inf), ("time", -5.0), ("error", -1.0),
                                        ("band", 7)])
def test_bad_observations_are_refused_naming_object_and_field(field, bad):
    curves = [light_curve(seed=0), light_curve(seed=1)]
    curves[1][field] = curves[1][field].astype(float)
    curves[1][field][3] = bad
    with pytest.raises(InputError, match=f"light curve 1.*field '{field}'.*observation 3"):
        render_lightcurves(curves, n_bands=2)


def test_all_nan_band_is_refused():
    curve = light_curve()
    curve["value"] = np.where(curve["band"] == 1, np.nan, curve["value"])
    with pytest.raises(InputError, match="field 'value'"):
        render_lightcurves([curve])


@pytest.mark.parametrize("layout", ["overlay", "stacked", "grid"])
def test_fast_renderer_agrees_with_matplotlib(layout):
    bands = (0, 1, 2, 3, 4, 5) if layout == "grid" else (0, 1)
    curves = [light_curve(n_per_band=30, bands=bands, seed=s) for s in range(2)]
    fast = render_lightcurves(curves, layout=layout)
    reference = render_lightcurves(curves, layout=layout, renderer="matplotlib")
    assert min(ssim(a, b) for a, b in zip(fast, reference)) > 0.9


def test_band_scale_fills_each_panel_with_its_own_band():
    curve = light_curve()
    curve["value"] = np.where(curve["band"] == 1, 100 * curve["value"], curve["value"])  # band 1 varies far more

    def drawn_rows(scale):
        image = render_lightcurves([curve], layout="stacked", scale=scale, marker_size=0, errorbar_width=0)[0]
        top = np.nonzero((image[:128] < 200).any(axis=(1, 2)))[0]
        return top.max() - top.min()

    # Scaled with band 1, band 0 is a flat line in its panel; scaled on its own, it spans the panel.
    assert drawn_rows("object") < 10
    assert drawn_rows("band") > 100
