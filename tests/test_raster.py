"""The rasteriser: geometry convention, coverage, clipping, compositing, and agreement with matplotlib."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from astroflow.represent.raster import Canvas, MatplotlibCanvas, make_canvas, ssim

CANVASES = {"fast": Canvas, "matplotlib": MatplotlibCanvas}
UNIT = {"xlim": (0.0, 1.0), "ylim": (0.0, 1.0)}


def ink(image: np.ndarray) -> np.ndarray:
    """How much of each pixel is drawn on (0 white, 1 fully covered in black)."""
    return 1 - image[..., 0].astype(float) / 255


@pytest.mark.parametrize("renderer", CANVASES)
def test_point_at_centre_lands_on_centre_pixel(renderer):
    canvas = CANVASES[renderer](1, 255, 255)
    canvas.markers([0], [0.5], [0.5], (0, 0, 0), size=1.5, **UNIT)
    drawn = ink(canvas.result()[0])
    assert np.unravel_index(np.argmax(drawn), drawn.shape) == (127, 127)
    assert drawn[127, 127] > 0.99
    np.testing.assert_allclose(drawn, drawn[::-1, ::-1], atol=0.02)  # centred: symmetric about the centre pixel


def test_point_at_centre_of_even_image_is_shared_by_four_pixels():
    canvas = Canvas(1, 256, 256)
    canvas.markers([0], [0.5], [0.5], (0, 0, 0), size=1, **UNIT)
    drawn = ink(canvas.result()[0])
    centre = drawn[127:129, 127:129]
    assert np.ptp(centre) == 0 and centre[0, 0] > 0.1
    assert drawn.sum() == pytest.approx(4 * centre[0, 0], abs=1e-6)


@pytest.mark.parametrize("renderer", CANVASES)
def test_line_pixels_lie_between_its_end_points(renderer):
    size, width = 101, 1.0
    canvas = CANVASES[renderer](1, size, size)
    canvas.lines([0, 0], [0.2, 0.8], [0.3, 0.7], (0, 0, 0), width=width, **UNIT)
    drawn = ink(canvas.result()[0])
    rows, cols = np.nonzero(drawn > 0.02)
    # Pixel centres in data space, y up.
    x, y = (cols + 0.5) / size, 1 - (rows + 0.5) / size
    reach = (width / 2 + 0.5) / size
    assert x.min() >= 0.2 - reach and x.max() <= 0.8 + reach
    assert y.min() >= 0.3 - reach and y.max() <= 0.7 + reach
    assert drawn[size // 2, size // 2] > 0.5  # the midpoint is drawn
    # The ink adds up to the line's area (length x width, plus the round caps).
    length = np.hypot(0.6, 0.4) * size
    assert drawn.sum() == pytest.approx(length * width + np.pi * (width / 2) ** 2, rel=0.05)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.floats(0.0, 1.0), min_size=4, max_size=4), st.sampled_from([0.5, 1.0, 2.5]))
def test_line_ink_stays_within_reach_of_the_segment(ends, width):
    size = 64
    x0, y0, x1, y1 = ends
    canvas = Canvas(1, size, size)
    canvas.lines([0, 0], [x0, x1], [y0, y1], (0, 0, 0), width=width, **UNIT)
    drawn = ink(canvas.result()[0])
    rows, cols = np.nonzero(drawn > 0)
    p = np.stack([cols + 0.5, rows + 0.5], 1)
    a, b = np.array([x0 * size, (1 - y0) * size]), np.array([x1 * size, (1 - y1) * size])
    t = np.clip(((p - a) @ (b - a)) / max((b - a) @ (b - a), 1e-12), 0, 1)
    distance = np.linalg.norm(p - (a + t[:, None] * (b - a)), axis=1)
    assert (distance < width / 2 + 0.5 + 1e-4).all()
    # The pixels nearest the segment's ends are drawn.
    for end in (a, b):
        col, row = np.clip(np.floor(end).astype(int), 0, size - 1)
        assert drawn[row, col] > 0


@pytest.mark.parametrize("renderer", CANVASES)
def test_error_bar_spans_the_right_rows(renderer):
    canvas = CANVASES[renderer](1, 200, 201)
    canvas.bars([0], [0.5], [0.25], [0.75], (0, 0, 0), width=1.0, **UNIT)
    drawn = ink(canvas.result()[0])
    column = drawn[:, 100]
    # y = 0.75 is row edge 50 and y = 0.25 is row edge 150, so rows 50..149 are covered, no others.
    assert (column[50:150] > 0.99).all()
    assert column[:50].max() == 0 and column[150:].max() == 0
    assert drawn[:, :100].max() < 0.01 and drawn[:, 101:].max() < 0.01


@pytest.mark.parametrize("renderer", CANVASES)
def test_primitives_are_clipped_to_their_box(renderer):
    canvas = CANVASES[renderer](1, 100, 100)
    box = (0.0, 50.0, 100.0, 50.0)  # the bottom half
    canvas.lines([0, 0], [0.0, 1.0], [-1.0, 2.0], (0, 0, 0), width=3, box=box, **UNIT)
    canvas.bars([0], [0.3], [-5.0], [5.0], (0, 0, 0), box=box, **UNIT)
    canvas.markers([0], [0.7], [1.0], (0, 0, 0), size=9, box=box, **UNIT)
    drawn = ink(canvas.result()[0])
    assert drawn[:50].max() == 0
    assert drawn[50:].max() > 0.98


def test_one_layer_merges_overlaps_and_alpha_composites_over_white():
    canvas = Canvas(1, 41, 41)
    # Two overlapping discs in one call: the overlap is not drawn twice.
    canvas.markers([0, 0], [0.5, 0.52], [0.5, 0.5], (1.0, 0.0, 0.0), size=10, alpha=0.5, **UNIT)
    image = canvas.result()[0].astype(int)
    assert tuple(image[20, 20]) == (255, 128, 128)
    assert tuple(image[0, 0]) == (255, 255, 255)
    # A second call is a new layer, composited over the first.
    canvas.markers([0], [0.5], [0.5], (0.0, 0.0, 1.0), size=4, alpha=0.5, **UNIT)
    assert tuple(canvas.result()[0][20, 20]) == (128, 64, 191)


def test_images_of_a_batch_are_independent_and_deterministic():
    def draw():
        canvas = Canvas(3, 32, 32)
        canvas.lines([0, 0, 2, 2], [0.1, 0.9, 0.1, 0.9], [0.1, 0.9, 0.9, 0.1], (0, 0, 1), width=1.5)
        return canvas.result()

    first = draw()
    assert (first[1] == 255).all()
    np.testing.assert_array_equal(first, draw())
    np.testing.assert_allclose(ink(first[0])[::-1], ink(first[2]), atol=2 / 255)  # mirror-image lines


def test_fast_canvas_agrees_with_matplotlib():
    rng = np.random.default_rng(1)
    x, y = np.sort(rng.uniform(0, 1, 30)), rng.uniform(0, 1, 30)
    images = []
    for make in (Canvas, MatplotlibCanvas):
        canvas = make(1, 128, 128)
        canvas.bars(np.zeros(30), x, y - 0.05, y + 0.05, (0.5, 0.5, 0.5), width=1.0)
        canvas.lines(np.zeros(30), x, y, (0.1, 0.4, 0.7), width=1.5)
        canvas.markers(np.zeros(30), x, y, (0.8, 0.1, 0.1), size=4)
        images.append(canvas.result()[0])
    assert ssim(*images) > 0.98
    assert np.abs(images[0].astype(int) - images[1]).mean() < 2


def test_ssim_scores_identical_images_one_and_different_images_less():
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
    assert ssim(image, image) == pytest.approx(1.0)
    assert ssim(image, 255 - image) < 0.5


def draw_plot(canvas) -> np.ndarray:
    """Every primitive, in two panels (one clipping), with alpha, several widths and three layers per image."""
    rng = np.random.default_rng(0)
    n = 40
    image, x, y = np.repeat([0, 1], n), np.tile(np.sort(rng.uniform(-0.1, 1.1, n)), 2), rng.uniform(-0.1, 1.1, 2 * n)
    error = rng.uniform(0, 0.2, 2 * n)
    panels = (((0.0, 0.0, 96.0, 40.5), (0.1, 0.4, 0.7), 1.0), ((10.5, 40.5, 80.0, 55.5), (0.8, 0.1, 0.1), 0.6))
    for box, colour, alpha in panels:
        canvas.bars(image, x, y - error, y + error, colour, width=1.5, box=box, alpha=alpha)
        canvas.lines(image, x, y, colour, width=rng.choice([0.5, 1.0, 2.5]), box=box, alpha=alpha)
        canvas.markers(image, x, y, colour, size=3.5, box=box, alpha=alpha)
    canvas.lines([0, 0, 1, 1], [0.0, 1.0, 1.0, 0.0], [0.0, 1.0, 0.0, 1.0], (0.2, 0.6, 0.2))
    return canvas.result()


def test_a_cleared_canvas_draws_like_a_new_one():
    canvas = Canvas(2, 96, 96)
    draw_plot(canvas)
    canvas.clear()
    canvas.markers([1], [0.5], [0.5], (0.0, 0.0, 1.0), size=9)
    fresh = Canvas(2, 96, 96)
    fresh.markers([1], [0.5], [0.5], (0.0, 0.0, 1.0), size=9)
    np.testing.assert_array_equal(canvas.result(), fresh.result())
    # Into the first image of a strided array, as into a fresh one.
    out = np.zeros((2, 96, 96, 6), dtype=np.uint8)[..., ::2]
    canvas.result(out[1:])
    np.testing.assert_array_equal(out[1], fresh.result()[0])


def test_unknown_renderer_too_small_panel_and_nan_coordinates_are_refused():
    with pytest.raises(ValueError, match="renderer"):
        make_canvas("cairo", 1, 8, 8)
    with pytest.raises(ValueError, match="panel"):
        Canvas(1, 8, 8).lines([0, 0], [0.1, 0.9], [0.5, 0.5], (0, 0, 0), width=3, box=(0.0, 0.0, 8.0, 2.0))
    with pytest.raises(ValueError, match="finite"):
        Canvas(1, 8, 8).markers([0], [np.nan], [0.5], (0, 0, 0))
