"""The embedded default: simulated SDSS-like spectra of stars, galaxies and quasars, with known labels.

Physics, in the rest frame, then shifted by (1 + z) onto the observed grid (vacuum wavelengths, Angstrom):

- STAR (O, B, A, F, G, K, M; WD): a black body at Teff times absorption lines whose depths follow Teff (a
  Gaussian in log Teff around where each line is strongest: He II in O, He I in B, Balmer in A, Ca II H and K, the
  G band, Mg b and Na D in cooler stars, TiO bands below 4000 K), scaled by [Fe/H] for metal lines, widened by
  gravity (log g); the Balmer jump below 3646 A in hot stars. White dwarfs (DA) have very broad, deep Balmer lines
  and no metals. Radial velocities give |z| ~ 1e-3.
- GALAXY: PASSIVE, an old population (cool black bodies) with a strong 4000 A break (D4000 1.7-2.2) and metal
  absorption lines widened by the velocity dispersion; STARFORMING, a young population (hotter, D4000 1.05-1.35)
  with nebular emission lines ([O II], H beta, [O III], H alpha, [N II], [S II]) in typical ratios.
- QSO: a power law (f_nu ~ nu^alpha, alpha ~ -0.5) with broad emission lines (Ly alpha, N V, Si IV, C IV,
  C III], Mg II, H beta, H alpha; FWHM 2500-7000 km/s, equivalent widths from composite spectra with scatter),
  narrow [O III], a Ly alpha forest blueward of Ly alpha (a log-normal optical depth field with the mean effective
  optical depth 0.0018 (1+z)^3.92 of high-resolution quasar spectra) and the Lyman limit below 912 A.

Noise is drawn as real inverse variances look: a source (Poisson) plus sky term, the sky with its strong emission
lines (O I 5577, Na D, O I 6300, OH bands in the red), both divided by a throughput that falls towards both ends of
the spectrograph; per-object signal-to-noise log-uniform. A few pixels are masked (cosmic rays) and some spectra
lose a stretch at one end (as truncated SDSS spectra do).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy.ndimage import gaussian_filter1d

from astroflow.spectra.grid import Grid

C_KMS = 299792.458
CLASSES = {"STAR": ("O", "B", "A", "F", "G", "K", "M", "WD"), "GALAXY": ("PASSIVE", "STARFORMING"),
           "QSO": ("BROADLINE",)}
TEFF = {"O": (30000, 45000), "B": (10000, 30000), "A": (7500, 10000), "F": (6000, 7500), "G": (5200, 6000),
        "K": (3900, 5200), "M": (2600, 3900), "WD": (8000, 40000)}
BALMER = (6564.61, 4862.68, 4341.68, 4102.89, 3971.20, 3890.15, 3836.47)
# Stellar absorption: rest wavelength, Teff where strongest, width of that in dex, largest depth, Gaussian sigma
# (A), metal line (scaled by [Fe/H]).
STELLAR_LINES = [
    *[(w, 9500, 0.13, 0.55, 8.0, False) for w in BALMER],
    *[(w, 20000, 0.10, 0.25, 3.0, False) for w in (4027.3, 4472.7, 5877.3, 6679.9)],
    *[(w, 40000, 0.07, 0.22, 3.0, False) for w in (4543.0, 4687.0, 5413.0)],
    (3934.78, 5000, 0.17, 0.75, 6.0, True), (3969.59, 5000, 0.17, 0.65, 6.0, True),
    (4305.0, 5100, 0.11, 0.30, 10.0, True), (5176.7, 4400, 0.12, 0.40, 6.0, True),
    (5270.0, 4800, 0.12, 0.20, 3.0, True), (5895.6, 3800, 0.13, 0.50, 5.0, True),
    (8500.4, 4600, 0.14, 0.35, 4.0, True), (8544.4, 4600, 0.14, 0.45, 4.0, True),
    (8664.5, 4600, 0.14, 0.40, 4.0, True),
]
TIO_HEADS = (4761, 4954, 5167, 5448, 5847, 6159, 6651, 7054, 7589, 8432)
GALAXY_ABSORPTION = [(3934.78, 0.35), (3969.59, 0.30), (4305.0, 0.15), (5176.7, 0.18), (5895.6, 0.12),
                     (4102.89, 0.06), (4862.68, 0.05)]
# Nebular emission: rest wavelength, flux relative to H alpha (before scatter).
NEBULAR = [(3728.5, 1.0), (4862.68, 0.35), (4960.30, 0.0), (5008.24, 0.0), (6549.86, 0.0), (6564.61, 1.0),
           (6585.27, 0.3), (6718.29, 0.15), (6732.67, 0.11)]
# Quasar broad lines: rest wavelength, rest equivalent width (A), from composite quasar spectra.
QSO_LINES = [(1215.67, 90.0), (1240.14, 20.0), (1399.8, 10.0), (1549.06, 35.0), (1908.73, 22.0), (2799.49, 35.0),
             (4341.68, 15.0), (4862.68, 55.0), (6564.61, 200.0)]
SKY_LINES = [(5578.9, 40.0), (5891.6, 12.0), (6302.0, 15.0), (6365.5, 5.0)]


@dataclass
class SimulateConfig:
    """How many spectra, how noisy, and the redshift ranges; classes are equally likely, and so are the
    subclasses of a class."""

    n_spectra: int = 1500
    seed: int = 0
    snr: tuple[float, float] = (2.0, 30.0)  # median per-pixel S/N, drawn log-uniform in this range
    galaxy_z: tuple[float, float] = (0.01, 0.8)
    qso_z: tuple[float, float] = (0.2, 4.0)
    star_rv: float = 150.0  # km/s, standard deviation of stellar radial velocities
    classes: dict[str, list[str]] = field(default_factory=lambda: {k: list(v) for k, v in CLASSES.items()})
    cosmic_rate: float = 0.002  # share of pixels hit by a cosmic ray (masked)
    truncated: float = 0.1  # share of spectra that lose 2-15% of their pixels at one end


def blackbody(wavelength: np.ndarray, teff: np.ndarray) -> np.ndarray:
    """Planck's B_lambda (arbitrary scale) at Angstrom wavelengths (spectra, pixels) and temperatures (spectra,)."""
    x = 1.4387769e8 / (wavelength * teff[:, None])  # h c / (lambda k T), lambda in A
    return wavelength ** -5.0 / np.expm1(np.minimum(x, 700.0))


def gaussian(wavelength: np.ndarray, centre: np.ndarray, sigma: np.ndarray) -> np.ndarray:
    """Unit-height Gaussians (spectra, pixels) at ``centre`` with width ``sigma`` (both per spectrum, Angstrom)."""
    return np.exp(-0.5 * ((wavelength - centre[:, None]) / sigma[:, None]) ** 2)


def _normalised(flux: np.ndarray, rest: np.ndarray, low: float = 4000.0, high: float = 8000.0) -> np.ndarray:
    """Each spectrum divided by its median over ``low``..``high`` rest Angstrom (or over all pixels)."""
    window = (rest > low) & (rest < high)
    counts = window.sum(axis=1, keepdims=True)
    median = np.where(counts > 10, np.nanmedian(np.where(window, flux, np.nan), axis=1, keepdims=True)
                      if window.any() else 1.0, np.median(flux, axis=1, keepdims=True))
    return flux / median


def star_model(rest: np.ndarray, subclass: np.ndarray, teff: np.ndarray, logg: np.ndarray,
               feh: np.ndarray) -> np.ndarray:
    """Stellar spectra (spectra, pixels) at rest wavelengths, continuum median about 1 over 4000-8000 A."""
    flux = _normalised(blackbody(rest, teff), rest)
    logt = np.log10(teff)
    wd = subclass == "WD"
    metals = np.clip(10.0 ** (0.5 * feh), 0.2, 2.0)
    jump = np.clip((teff - 6000) / 4000, 0, 1) * np.clip((20000 - teff) / 10000, 0.3, 1)
    flux = flux * np.where(rest < 3646.0, 1.0 - 0.45 * jump[:, None], 1.0)
    pressure = np.clip(10.0 ** (0.25 * (logg - 4.0)), 0.7, 12.0)  # Balmer wings widen with gravity
    for centre, peak, spread, depth, sigma, metal in STELLAR_LINES:
        d = depth * np.exp(-0.5 * ((logt - np.log10(peak)) / spread) ** 2)
        balmer = centre in BALMER
        if metal:
            d = np.where(wd, 0.0, np.clip(d * metals, 0, 0.9))
        if balmer:
            d = np.where(wd, 0.6, d)
        s = np.full(len(rest), sigma) * (pressure if balmer else 1.0)
        flux = flux * (1.0 - d[:, None] * gaussian(rest, np.full(len(rest), centre), s))
    tio = np.clip((4000.0 - teff) / 1300.0, 0, 1) * 0.65
    for head in TIO_HEADS:
        inside = (rest >= head) & (rest < head + 180.0)
        flux = flux * (1.0 - tio[:, None] * inside * (1.0 - (rest - head) / 180.0))
    return flux


def galaxy_model(rest: np.ndarray, subclass: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    n = len(rest)
    passive = subclass == "PASSIVE"
    hot = np.where(passive, 0.03, rng.uniform(0.25, 0.7, n))
    warm = np.where(passive, rng.uniform(0.2, 0.4, n), rng.uniform(0.2, 0.4, n))
    flux = (hot[:, None] * _normalised(blackbody(rest, np.full(n, 15000.0)), rest)
            + warm[:, None] * _normalised(blackbody(rest, np.full(n, 6000.0)), rest)
            + (1 - hot - warm)[:, None] * _normalised(blackbody(rest, rng.uniform(3800, 4600, n)), rest))
    d4000 = np.where(passive, rng.uniform(1.7, 2.2, n), rng.uniform(1.05, 1.35, n))
    step = 0.5 * (1 + np.tanh((rest - 4000.0) / 25.0))
    flux = flux * (1.0 / d4000[:, None] + (1 - 1.0 / d4000[:, None]) * step)
    dispersion = np.where(passive, rng.uniform(150, 300, n), rng.uniform(60, 150, n))  # km/s
    strength = np.where(passive, 1.0, 0.35)
    for centre, depth in GALAXY_ABSORPTION:
        sigma = centre * np.hypot(dispersion, 150.0) / C_KMS
        flux = flux * (1.0 - depth * strength[:, None] * gaussian(rest, np.full(n, centre), sigma))
    halpha_ew = np.where(passive, 0.0, rng.lognormal(np.log(50.0), 0.6, n))  # A
    oiii = rng.lognormal(np.log(0.8), 0.8, n)  # [O III] 5007 / H beta
    nii = rng.uniform(0.1, 0.5, n)
    width = rng.uniform(50, 150, n)
    continuum = np.median(np.where((rest > 6400) & (rest < 6700), flux, np.nan), axis=1)
    continuum = np.where(np.isfinite(continuum), continuum, np.median(flux, axis=1))
    for centre, ratio in NEBULAR:
        ratio = {4960.30: oiii * 0.35 / 2.98, 5008.24: oiii * 0.35, 6549.86: nii / 3.05, 6585.27: nii}.get(
            centre, ratio)
        sigma = centre * width / C_KMS
        area = ratio * halpha_ew * continuum  # line flux in continuum units x A
        flux = flux + (area / (np.sqrt(2 * np.pi) * sigma))[:, None] * gaussian(rest, np.full(n, centre), sigma)
    return flux


def qso_model(rest: np.ndarray, z: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    n = len(rest)
    alpha_nu = rng.normal(-0.5, 0.3, n)
    flux = (rest / 3000.0) ** -(2.0 + alpha_nu)[:, None]
    fwhm = rng.uniform(2500, 7000, n)
    lines = np.zeros_like(flux)
    for centre, ew in QSO_LINES:
        sigma = centre * fwhm / C_KMS / 2.3548
        continuum = (centre / 3000.0) ** -(2.0 + alpha_nu)
        area = ew * rng.lognormal(0.0, 0.35, n) * continuum
        lines += (area / (np.sqrt(2 * np.pi) * sigma))[:, None] * gaussian(rest, np.full(n, centre), sigma)
    narrow = 5008.24 * 400.0 / C_KMS
    oiii = 15.0 * rng.lognormal(0, 0.5, n) * (5008.24 / 3000.0) ** -(2.0 + alpha_nu)
    lines += (oiii / (np.sqrt(2 * np.pi) * narrow))[:, None] * gaussian(rest, np.full(n, 5008.24), np.full(n, narrow))
    flux = flux + lines
    # Ly alpha forest: absorbers at redshift (1 + z_abs) = observed / 1215.67, log-normal optical depth field.
    z_abs = np.maximum(rest * (1 + z[:, None]) / 1215.67 - 1.0, 0.0)
    tau_mean = 0.0018 * (1 + z_abs) ** 3.92
    field_ = gaussian_filter1d(rng.normal(size=flux.shape), 2.0, axis=1)
    field_ /= field_.std()
    tau = tau_mean * np.exp(1.2 * field_ - 0.72)  # log-normal, mean tau_mean
    forest = rest < 1215.67
    flux = flux * np.where(forest, np.exp(-tau), 1.0)
    return flux * np.where(rest < 912.0, 0.02, 1.0)


def throughput(wavelength: np.ndarray) -> np.ndarray:
    """Relative system throughput of an SDSS-like spectrograph: highest near 6000 A, falling towards both ends."""
    x = np.log(wavelength / 6000.0)
    return np.clip(np.exp(-0.5 * (x / 0.33) ** 2), 0.05, 1.0)


def sky(wavelength: np.ndarray) -> np.ndarray:
    """Sky brightness (flux-density units of a median object): a continuum rising to the red, strong emission
    lines, and OH bands beyond 6800 A (a comb of lines, brighter to the red)."""
    level = 0.3 + 0.5 * np.clip((wavelength - 6800.0) / 3000.0, 0, None)
    for centre, height in SKY_LINES:
        level = level + height * np.exp(-0.5 * ((wavelength - centre) / 1.5) ** 2)
    oh = wavelength > 6800
    comb = np.cos(2 * np.pi * wavelength / 23.0) ** 40 * 8.0 * np.clip((wavelength - 6800.0) / 2000.0, 0, 2)
    return level + np.where(oh, comb, 0.0)


def labels(config: SimulateConfig, rng: np.random.Generator) -> pd.DataFrame:
    """One row per simulated object: class, subclass, z, teff, logg, feh (NaN where not a star)."""
    n = config.n_spectra
    names = list(config.classes)
    spec_class = np.array(names)[rng.integers(0, len(names), n)]
    subclass = np.array([config.classes[c][rng.integers(0, len(config.classes[c]))] for c in spec_class])
    star = spec_class == "STAR"
    bounds = np.array([TEFF.get(s, (5000, 5000)) for s in subclass], dtype=float)
    teff = np.where(star, np.exp(rng.uniform(np.log(bounds[:, 0]), np.log(bounds[:, 1]))), np.nan)
    wd = subclass == "WD"
    giant = rng.random(n) < 0.25
    logg = np.where(wd, rng.uniform(7.5, 8.5, n), np.where(giant & (teff < 5500), rng.uniform(1.5, 3.5, n),
                                                           rng.uniform(4.0, 4.8, n)))
    feh = np.where(wd, np.nan, rng.normal(-0.3, 0.4, n).clip(-2.5, 0.5))
    z = np.select([star, spec_class == "GALAXY", spec_class == "QSO"],
                  [rng.normal(0.0, config.star_rv / C_KMS, n), rng.uniform(*config.galaxy_z, n),
                   rng.uniform(*config.qso_z, n)], 0.0)
    return pd.DataFrame({
        "object_id": [f"sim{i:06d}" for i in range(n)], "class": spec_class, "subclass": subclass, "z": z,
        "teff": teff, "logg": np.where(star, logg, np.nan), "feh": np.where(star, feh, np.nan)})


def noiseless(table: pd.DataFrame, wavelength: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Model spectra (objects, pixels) of the labelled objects on observed ``wavelength``, median flux about 1
    before a per-object brightness."""
    flux = np.empty((len(table), len(wavelength)))
    z = table["z"].to_numpy()
    rest = wavelength[None, :] / (1 + z[:, None])
    for kind in ("STAR", "GALAXY", "QSO"):
        rows = np.flatnonzero(table["class"].to_numpy() == kind)
        if not len(rows):
            continue
        sub = table["subclass"].to_numpy()[rows]
        if kind == "STAR":
            part = star_model(rest[rows], sub, *(table[c].to_numpy()[rows] for c in ("teff", "logg", "feh")))
        elif kind == "GALAXY":
            part = galaxy_model(rest[rows], sub, rng)
        else:
            part = qso_model(rest[rows], z[rows], rng)
        flux[rows] = part / np.median(part, axis=1, keepdims=True)
    return flux


def simulate(config: SimulateConfig, grid: Grid) -> tuple[np.ndarray, np.ndarray, np.ndarray, pd.DataFrame]:
    """Noisy spectra on ``grid``: flux (1e-17 erg/s/cm2/A scale), ivar, mask (non-zero bad), and the labels."""
    rng = np.random.default_rng(config.seed)
    table = labels(config, rng)
    wavelength = grid.wavelength
    n = len(table)
    flux = noiseless(table, wavelength, rng) * np.exp(rng.uniform(np.log(1.0), np.log(30.0), n))[:, None]
    shape = throughput(wavelength)[None, :]
    # Variance of a pixel: the source's Poisson term plus the sky's, seen through the throughput; scaled so the
    # median S/N is the object's draw.
    raw = (np.abs(flux) + sky(wavelength)[None, :] * np.median(np.abs(flux), axis=1, keepdims=True)) / shape
    snr = np.exp(rng.uniform(*np.log(config.snr), n))
    scale = np.median(np.abs(flux) / np.sqrt(raw), axis=1) / snr
    sigma = np.sqrt(raw) * scale[:, None]
    observed = flux + rng.normal(size=flux.shape) * sigma
    ivar = (1.0 / sigma ** 2).astype(np.float32)
    mask = np.zeros(flux.shape, dtype=np.uint8)
    cosmic = rng.random(flux.shape) < config.cosmic_rate
    observed = np.where(cosmic, observed + rng.exponential(20.0, flux.shape) * sigma, observed)
    mask[cosmic] = 2
    cut = rng.random(n) < config.truncated
    for i in np.flatnonzero(cut):
        k = int(rng.uniform(0.02, 0.15) * len(wavelength))
        end = slice(0, k) if rng.random() < 0.5 else slice(len(wavelength) - k, None)
        mask[i, end] = 1
        ivar[i, end] = 0.0
        observed[i, end] = 0.0
    table["snr"] = snr
    return observed.astype(np.float32), ivar, mask, table
