"""Spectrum images: the five kinds, channel semantics, gaps, bad input, and the fast renderer against matplotlib."""
import numpy as np
import pytest

from astroflow.errors import InputError
from astroflow.represent.raster import ssim
from astroflow.represent.spectrum_images import render_spectra

LOGLAM = 3.58 + 1e-4 * np.arange(600)


def lit(image: np.ndarray) -> np.ndarray:
    """Rows of each column where a channel plot (bright on black) is drawn: a boolean (H, W)."""
    return image > 128


def mean_row(drawn: np.ndarray) -> np.ndarray:
    """The mean drawn row of each column (NaN where nothing is drawn)."""
    rows = np.arange(drawn.shape[0])[:, None]
    with np.errstate(invalid="ignore"):
        return (drawn * rows).sum(axis=0) / drawn.sum(axis=0)


def test_kinds_give_rgb_images_of_the_requested_size():
    flux = np.random.default_rng(0).normal(1, 0.1, (3, 600))
    for kind in ("line", "segments", "derivatives", "rows"):
        images = render_spectra(flux, LOGLAM, kind=kind)
        assert images.shape == (3, 224, 224, 3) and images.dtype == np.uint8
    assert render_spectra(flux, LOGLAM, size=(64, 128)).shape == (3, 64, 128, 3)
    with pytest.raises(ValueError, match="kind"):
        render_spectra(flux, LOGLAM, kind="waterfall")


def test_line_plot_is_black_on_white_and_follows_the_flux():
    image = render_spectra(LOGLAM, LOGLAM, size=101)[0]  # flux rising linearly with wavelength
    assert (image[..., 0] == image[..., 1]).all() and (image[..., 0] == image[..., 2]).all()
    row = mean_row(image[..., 0] < 128)
    columns = np.arange(10, 91)
    # Rising flux runs from bottom left to top right: row = (1.05 - x) / 1.1 * 101 with x the column's centre.
    expected = (1.05 - ((columns + 0.5) / 101 * 1.1 - 0.05)) / 1.1 * 101 - 0.5
    np.testing.assert_allclose(row[columns], expected, atol=1.0)


def test_segments_put_each_third_of_the_range_in_its_own_channel():
    image = render_spectra(LOGLAM, LOGLAM, kind="segments", size=111)[0]
    for k in range(3):
        rows = np.nonzero(lit(image[..., k]).any(axis=1))[0]
        # Rising flux on a shared scale: third k spans y in k/3..(k+1)/3, i.e. rows (1.05 - y) / 1.1 * 111.
        top, bottom = (1.05 - (k + 1) / 3) / 1.1 * 111, (1.05 - k / 3) / 1.1 * 111
        assert rows.min() >= top - 2 and rows.max() <= bottom + 2
        assert rows.max() - rows.min() > 0.8 * (bottom - top)
        # Each third spans the full width.
        assert lit(image[..., k])[:, 8:103].any(axis=0).all()


def test_rows_wrap_the_range_into_bands_top_to_bottom():
    size, bands = 120, 4
    image = render_spectra(LOGLAM, LOGLAM, kind="rows", rows=bands, size=size)[0]  # flux rising with wavelength
    assert (image[..., 0] == image[..., 1]).all()  # black on white, like the line plot
    drawn = image[..., 0] < 128
    columns = np.arange(10, size - 10)
    x_local = (columns + 0.5) / size * 1.1 - 0.05
    for k in range(bands):
        # Part k of the range, on the whole spectrum's scale, inside band k from the top (a tenth of it as margin).
        y = ((bands - 1 - k) + 0.1 + 0.8 * (k + x_local) / bands) / bands
        expected = (1.05 - y) / 1.1 * size - 0.5
        top, bottom = int((1.05 - (bands - k) / bands) / 1.1 * size), int((1.05 - (bands - 1 - k) / bands) / 1.1 * size)
        band = np.zeros_like(drawn)
        band[top:bottom] = drawn[top:bottom]
        np.testing.assert_allclose(mean_row(band)[columns], expected, atol=1.0)
    with pytest.raises(ValueError, match="rows"):
        render_spectra(LOGLAM, LOGLAM, kind="rows", rows=0, size=size)


def test_tiles_hold_the_spectrum_stretch_by_stretch_in_reading_order():
    n = 16 * 16
    flux = np.arange(2 * n, dtype=float)  # two grid pixels to an image pixel
    mask = np.zeros((1, 2 * n), int)
    mask[0, 64:128] = 1  # image pixels 32..63 have no good pixel
    image = render_spectra(flux, 3.58 + 1e-4 * np.arange(2 * n), mask=mask, kind="tiles", size=16, tile=4)[0]
    # Back to one row of pixels: tile after tile, each read row by row.
    pixels = image.reshape(4, 4, 4, 4, 3).transpose(0, 2, 1, 3, 4).reshape(n, 3)
    good = np.ones(n, bool)
    good[32:64] = False
    np.testing.assert_array_equal(pixels[:, 2], np.where(good, 255, 0))
    # Pixel k is the mean of grid pixels 2k and 2k + 1, scaled from pixel 0's to pixel n - 1's.
    np.testing.assert_allclose(pixels[good, 0], np.rint(255 * np.arange(n) / (n - 1))[good], atol=1)
    assert (pixels[~good, :2] == 0).all()
    # A constant slope (mid-scale) wherever both neighbours are good; none beside the gap.
    assert (pixels[np.r_[1:31, 65:n - 1], 1] == 128).all() and (pixels[[31, 64], 1] == 0).all()
    with pytest.raises(ValueError, match="tile"):
        render_spectra(flux, 3.58 + 1e-4 * np.arange(2 * n), kind="tiles", size=16, tile=5)


def test_tiles_average_a_finer_grid_and_interpolate_a_coarser_one():
    flux = np.sin(np.linspace(0, 3, 600)) + 2
    fine = render_spectra(flux, LOGLAM, kind="tiles", size=8, tile=4)[0, ..., 0].astype(int)  # 64 pixels
    coarse = render_spectra(flux, LOGLAM, kind="tiles", size=32, tile=4)[0, ..., 0].astype(int)  # 1024 pixels
    assert fine.max() == coarse.max() == 255 and fine.min() < 10 and coarse.min() < 10


def test_clip_keeps_a_cosmic_ray_from_squashing_the_spectrum():
    flux = np.linspace(1, 2, 600)
    flux[300] = 1000.0
    height = {}
    for clip in (0.0, 1.0):
        drawn = render_spectra(flux, LOGLAM, clip=clip, size=100)[0, ..., 0] < 128
        rows = np.nonzero(np.delete(drawn, np.s_[45:55], axis=1).any(axis=1))[0]
        height[clip] = rows.max() - rows.min()
    assert height[0.0] < 5 and height[1.0] > 80  # min-max: a flat line at the bottom; clipped: the whole ramp
    with pytest.raises(ValueError, match="clip"):
        render_spectra(flux, LOGLAM, clip=50)


def test_derivatives_fill_the_channels_with_flux_slope_and_curvature():
    x = np.linspace(0, 1, 600)
    image = render_spectra(x**2, LOGLAM, kind="derivatives", size=111)[0]
    flux, first, second = (mean_row(lit(image[..., k])) for k in range(3))
    columns = np.arange(15, 96)
    assert (np.diff(flux[columns]) <= 0.5).all()  # rising (rows fall) and curving
    np.testing.assert_allclose(np.diff(first[columns]), -1.0, atol=0.6)  # a straight rising line, 45 degrees
    np.testing.assert_allclose(second[columns], 55, atol=1)  # constant: centred at y = 0.5, row 55


def test_bad_pixels_are_gaps():
    flux = np.ones((2, 600)) + np.linspace(0, 1, 600)
    mask = np.zeros((2, 600), int)
    mask[0, 200:400] = 1
    ivar = np.ones((2, 600))
    ivar[1, 200:400] = 0
    for image in (render_spectra(flux, LOGLAM, mask=mask)[0], render_spectra(flux, LOGLAM, ivar=ivar)[1]):
        drawn = (image[..., 0] < 255).any(axis=0)
        # Good pixels 199 and 400 are at x = 0.332 and 0.668, columns 77.8 and 146.2 of 224 (limits -0.05..1.05).
        assert not drawn[80:145].any()
        assert drawn[10:78].all() and drawn[147:214].all()


def test_spectrum_without_good_pixels_is_blank():
    flux = np.ones((2, 600))
    mask = np.zeros((2, 600), int)
    mask[1] = 1
    assert (render_spectra(flux, LOGLAM, mask=mask)[1] == 255).all()
    assert (render_spectra(flux, LOGLAM, mask=mask, kind="derivatives")[1] == 0).all()


def test_bad_input_is_refused():
    flux = np.ones((2, 600))
    flux[1, 17] = np.nan
    with pytest.raises(InputError, match="spectrum 1.*field 'flux'.*pixel 17"):
        render_spectra(flux, LOGLAM)
    mask = np.zeros((2, 600), int)
    mask[1, 17] = 1
    assert render_spectra(flux, LOGLAM, mask=mask).shape == (2, 224, 224, 3)  # masked NaN is fine
    with pytest.raises(InputError, match="wavelength"):
        render_spectra(np.ones((1, 600)), LOGLAM[::-1])
    with pytest.raises(ValueError, match="mask"):
        render_spectra(np.ones((1, 600)), LOGLAM, mask=np.zeros(5))


def test_per_spectrum_wavelength_grids():
    flux = np.stack([LOGLAM, LOGLAM])
    grids = np.stack([LOGLAM, LOGLAM * 2])
    images = render_spectra(flux, grids)
    np.testing.assert_array_equal(images[0], images[1])  # each drawn on its own range


@pytest.mark.parametrize("kind", ["line", "segments", "derivatives", "rows"])
def test_fast_renderer_agrees_with_matplotlib(kind):
    rng = np.random.default_rng(2)
    lam = 10**LOGLAM
    flux = 1 + 0.3 * np.sin(lam / 500) + rng.normal(0, 0.01, (2, 600)) + 2 * np.exp(-0.5 * ((lam - 4500) / 4) ** 2)
    fast = render_spectra(flux, LOGLAM, kind=kind)
    reference = render_spectra(flux, LOGLAM, kind=kind, renderer="matplotlib")
    assert min(ssim(a, b) for a, b in zip(fast, reference)) > 0.9
