"""A simulated multiband survey: labelled light curves of eleven variability classes, the offline default data set.

Each class draws its physical parameters from the ranges below, is sampled with a ground-based cadence (multi-year
baseline, a 6-8 month observing season per year set by the object's right ascension, visits near local midnight,
bands observed at different times and in different numbers) and observed through a sky+source noise model with a
detection threshold and occasional outliers. Classes overlap where nature makes them overlap (RRc, contact binaries
and delta Scuti stars in period and amplitude; first-overtone Cepheids and RR Lyrae; Miras and semi-regulars; SNe
Ia and II near peak), and faint objects are noisy, so classification is not trivial.

Magnitudes and amplitudes are given at the reference wavelength 551 nm (V). Other bands follow from a colour
``c = m(482 nm) - m(622 nm)`` (g-r-like), linear in wavelength, and an amplitude ratio
``A(lam) = A_V (max(lam, 482 nm) / 551 nm) ** -alpha``: bluer than g the ratio is held at its g value, as Stripe 82
RR Lyrae show (u/g amplitude ratio 0.95 for ab, 0.88 for c).

======== ====================================== ======================================== ================ =========
class    period [d]                             amplitude at 551 nm [mag]                g-r; alpha       source
======== ====================================== ======================================== ================ =========
RRab     log P ~ N(-0.238, 0.052) in [.42, .95] A_g = 0.074 - 3.77 log P + N(0, 0.23)    N(.275,.06); 1.3 S10, CS15
RRc      log P ~ N(-0.470, 0.054) in [.22, .50] A_g ~ N(0.51, 0.09) in [0.2, 0.8]        N(.12,.08); 1.3  S10, CS15
Cepheid  F (60%): log P ~ N(0.55, 0.25) in      F: U(0.3, 1.2); 1O: U(0.15, 0.6)         U(.3,.9); 1.3    S08
         [0.1, 1.8]; 1O: N(0.3, 0.15) in [-.4, .7]
EB_det.  log-uniform 0.8-50                     primary eclipse U(0.1, 1.2), secondary   U(-.3,1.2);      P11, M15
                                                0.05-1 of it, width 0.008-0.04 in phase  +-0.3
EB_cont. log P ~ N(log .37, 0.1) in [.22, 1.0]  U(0.1, 0.8), minima within 15%           U(.2,.9); 0-.2   R07
DSCT     log-uniform 0.03-0.25; 30% with a      log-uniform 0.08-0.9                     U(-.05,.3); 1.3  B00, P10
         second mode at period ratio .756-.78
LPV      Mira (50%): log-uniform 100-700;       Mira U(2.5, 7); SRV U(0.2, 2); plus      U(1.0,1.6);      S09
         SRV: log-uniform 30-300                cycle-to-cycle DRW (tau 0.5-2 P)         U(2, 3)
QSO      none (DRW): log tau_rest ~ N(2.4, .3), SF_inf: log ~ N(-0.7, 0.2) in [-1.5, 0]  U(-.1,.4); 0.48 M10
         tau_obs = tau_rest (1 + z), z ~ U(0.2, 3)
SNIa     Bazin rise U(2, 4) d, fall U(18, 30) d M_V ~ N(-19.3, 0.15); i/z second maximum  U(-.1,.1)        B09, K10
         x (lam/551)^U(1,2); x (1+z)            at +22-30 d
SNII     rise U(1, 4) d; plateau slope          M_V ~ N(-16.8, 0.9); drop 1-2.5 mag,     U(0,.3)          A14, R14
         log-uniform 0.2-3 mag/100 d; plateau   then the 56Co tail (0.98 mag/100 d)
         end 60-120 d
NonVar   none                                   0                                        U(-.3,1.5)
======== ====================================== ======================================== ================ =========

Sources: S10 Sesar et al. 2010 (ApJ 708, 717; Stripe 82 RR Lyrae); CS15 Catelan & Smith 2015 (Pulsating Stars);
S08 Soszynski et al. 2008 (AcA 58, 163; OGLE-III LMC Cepheids, 40% first overtone); P11 Prsa et al. 2011 (AJ 141,
83; Kepler EBs); M15 Mikulasek 2015 (A&A 584, A8; phenomenological eclipse profile); R07 Rucinski 2007 (MNRAS 382,
393; W UMa period cut-off at 0.22 d); B00 Breger 2000 (ASPC 210, 3); P10 Poleski et al. 2010 (AcA 60, 1; OGLE-III
LMC delta Scuti, 1O/F ratio); S09 Soszynski et al. 2009 (AcA 59, 239; OGLE-III LMC LPVs); M10 MacLeod et al. 2010
(ApJ 721, 1014; SF_inf falls with wavelength, roughly lam^-0.48); B09 Bazin et al. 2009 (A&A 499, 653); K10 Kessler
et al. 2010 (PASP 122, 1415; SNPCC); A14 Anderson et al. 2014 (ApJ 786, 67; SN II plateau slopes and durations);
R14 Richardson et al. 2014 (AJ 147, 118; SN peak absolute magnitudes). Noise: Ivezic et al. 2019 (ApJ 873, 111,
eq. 5) with gamma = 0.039, single-visit depths m5 jittered by 0.2 mag between visits.

Calibration against real data (``/work/shared/data/sdss_s82_rrlyrae``, 379 RRab and 104 RRc of Sesar et al. 2010):
the RR Lyrae period distributions, the period-amplitude (Bailey) relation of RRab and its scatter, the RRc amplitudes,
the g/r, i/r, z/r amplitude ratios (1.39, 0.80, 0.72 for ab, so alpha = 1.3) and the median g-r colours come from
table2 and the light curves; the Fourier shape parameters (R21, R31, R41, phi21, phi31, phi41, cosine series, mean
and circular spread) come from our 4-harmonic fits to the g and r light curves at the catalogue periods, and give
the observed rise times (0.21-0.25 of a cycle for RRab, 0.40 for RRc). The other classes are not calibrated here.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.special import log_expit, ndtr, ndtri

from astroflow.catalogue import Catalogue
from astroflow.errors import ConfigError
from astroflow.logs import progress

log = logging.getLogger(__name__)

CLASSES = ("RRab", "RRc", "Cepheid", "EB_detached", "EB_contact", "DSCT", "LPV", "QSO", "SNIa", "SNII", "NonVar")
YEAR = 365.25
LAM_REF = 551.0  # nm: magnitudes and amplitudes are quoted at V
LAM_G, LAM_R = 482.0, 622.0  # nm: the colour c is m(LAM_G) - m(LAM_R)
POGSON = 2.5 / np.log(10)  # 1.0857: mag error per unit relative flux error
GAMMA = 0.039  # Ivezic et al. 2019 eq. 5
M5_JITTER = 0.2  # mag: visit-to-visit change of the depth (seeing, objs)
TRANSIENT_MAX_VISITS = 250  # an event window of ~8 months holds at most about one visit a night


@dataclass(frozen=True)
class Band:
    name: str
    wavelength: float  # effective wavelength, nm
    m5: float  # single-visit 5-sigma depth, mag
    weight: float  # relative share of the visits


BANDS = {b.name: b for b in [
    # MACHO two-colour camera, blue 440-590 nm and red 590-780 nm, taken together; photometric errors reach ~0.2 mag
    # near V ~ 21 (Alcock et al. 1999, PASP 111, 1539).
    Band("B", 520.0, 21.0, 1.0), Band("R", 690.0, 20.6, 1.0),
    # LSST: effective wavelengths and single-visit depths (Ivezic et al. 2019, table 2); visit shares from the
    # baseline design's ten-year visits per band (56, 80, 184, 184, 160, 160; ibid. table 1).
    Band("u", 367.0, 23.8, 56.0), Band("g", 482.0, 24.8, 80.0), Band("r", 622.0, 24.4, 184.0),
    Band("i", 754.0, 23.9, 184.0), Band("z", 869.0, 23.3, 160.0), Band("y", 971.0, 22.5, 160.0),
]}


@dataclass(frozen=True)
class Survey:
    name: str
    bands: tuple[str, ...]
    start: float  # MJD of the first night
    years: float  # baseline
    midnight: float  # fractional MJD of local midnight at the site
    sigma_sys: float  # mag, systematic error floor


PRESETS = {
    # MACHO began in July 1992 at Mount Stromlo (149 E, local midnight ~14:05 UT) and ran about 7.5 years.
    "macho": Survey("macho", ("B", "R"), 48823.0, 7.5, 0.59, 0.015),
    # LSST at Cerro Pachon (70.7 W, local midnight ~04:45 UT), ten years from late 2025.
    "lsst": Survey("lsst", ("u", "g", "r", "i", "z", "y"), 60980.0, 10.0, 0.20, 0.005),
}
MARCH_EQUINOX = 51623.8  # MJD of 2000 March 20: the Sun crosses RA 0


def simulate_survey(n_per_class: int | dict[str, int], bands: str | list[str] = "macho", seed: int | list[int] = 0, *,
                    min_points: int = 20, max_points: int = 1000, years: float | None = None,
                    mag_range: tuple[float, float] | None = None, outlier_fraction: float = 0.005,
                    detect_snr: float = 3.0, synchronous: bool = False, first_id: int = 0) -> Catalogue:
    """Simulate labelled light curves in magnitudes.

    n_per_class: objects per class, one number for all of ``CLASSES`` or a mapping class -> number.
    bands: a preset ("macho": B, R; "lsst": ugrizy) or a list of band names from ``BANDS``.
    min_points, max_points: range of visits per object (all bands together), drawn log-uniformly; detections can be
        fewer, and transients get at most 250 (one a night over their event).
    years: survey baseline (default from the preset; 5 for a band list).
    mag_range: mean magnitude at 551 nm (peak for supernovae), uniform; default 6 to 0.8 mag above the median depth.
    outlier_fraction: share of detections shifted by 0.5-3 mag (bad subtractions, cosmic rays).
    detect_snr: a visit is kept when its measured flux has at least this signal-to-noise.
    synchronous: observe all bands at every visit (as MACHO's dichroic camera did) instead of independently.
    first_id: number of the first object id, so that parts of one corpus simulated apart (with seeds
        ``[seed, part]``) have distinct ids.

    Each class has its own random stream from ``seed``, so a class's light curves do not depend on how many objects
    of other classes are asked for; object ids ("sim-000123") count through the classes in ``CLASSES`` order.
    """
    counts = _class_counts(n_per_class)
    survey = _survey(bands, years)
    if not 1 <= min_points <= max_points:
        raise ConfigError("max_points", f"need 1 <= min_points <= max_points, got {min_points}, {max_points}")
    if mag_range is None:
        depth = float(np.median([BANDS[b].m5 for b in survey.bands]))
        mag_range = (depth - 6.0, depth - 0.8)
    if not 0.0 <= outlier_fraction < 1.0:
        raise ConfigError("outlier_fraction", f"must be in [0, 1), got {outlier_fraction}")
    obs_parts, object_parts = [], []
    for k, name in enumerate(CLASSES):
        if counts.get(name, 0):
            rng = np.random.default_rng([*np.atleast_1d(seed), k])
            obs, objects = _simulate_class(name, counts[name], survey, rng, (min_points, max_points), mag_range,
                                           outlier_fraction, detect_snr, synchronous)
            obs["object"] += sum(len(o["label"]) for o in object_parts)
            obs_parts.append(obs)
            object_parts.append(objects)
    if not object_parts:
        return Catalogue.empty(survey=f"simulated-{survey.name}", bands=list(survey.bands))
    obs = {key: np.concatenate([o[key] for o in obs_parts]) for key in obs_parts[0]}
    objects = pd.DataFrame({key: np.concatenate([o[key] for o in object_parts]) for key in object_parts[0]})
    width = max(6, len(str(first_id + len(objects) - 1)))
    ids = np.char.add("sim-", np.char.zfill(np.arange(first_id, first_id + len(objects)).astype(str), width))
    ids = ids.astype(object)
    objects.insert(0, "object_id", ids)
    band_names = np.array(survey.bands, dtype=object)
    table = pd.DataFrame({"object_id": ids[obs["object"]], "time": obs["time"], "band": band_names[obs["band"]],
                          "value": obs["value"], "error": obs["error"]})
    return Catalogue(obs=table, objects=objects, quantity="mag", unit="mag", survey=f"simulated-{survey.name}",
                     bands=list(survey.bands))


def _class_counts(n_per_class) -> dict[str, int]:
    counts = dict.fromkeys(CLASSES, n_per_class) if isinstance(n_per_class, int | np.integer) else dict(n_per_class)
    unknown = sorted(set(counts) - set(CLASSES))
    if unknown:
        raise ConfigError("n_per_class", f"unknown classes {unknown}; known: {list(CLASSES)}")
    bad = {k: v for k, v in counts.items() if not isinstance(v, int | np.integer) or v < 0}
    if bad:
        raise ConfigError("n_per_class", f"counts must be non-negative integers, got {bad}")
    return {k: int(v) for k, v in counts.items()}


def _survey(bands, years) -> Survey:
    if isinstance(bands, str):
        if bands not in PRESETS:
            raise ConfigError("bands", f"unknown preset {bands!r}: use {sorted(PRESETS)} or a list from {list(BANDS)}")
        survey = PRESETS[bands]
    else:
        bands = list(bands)
        unknown = [b for b in bands if b not in BANDS]
        if not bands or unknown or len(set(bands)) != len(bands):
            raise ConfigError("bands", f"need distinct names from {list(BANDS)}, got {bands}")
        survey = Survey("custom", tuple(bands), 59000.0, 5.0, 0.20, 0.01)
    if years is not None:
        if years <= 0:
            raise ConfigError("years", f"must be positive, got {years}")
        survey = replace(survey, years=float(years))
    return survey


# ---------------------------------------------------------------------------------------------------------------
# Sky, seasons and cadence


@dataclass
class _Objects:
    """What objects of every class share: position, observing seasons [origin + k YEAR, origin + k YEAR + season),
    mean magnitude at 551 nm (peak for transients), and the survey's time span."""

    ra: np.ndarray
    dec: np.ndarray
    origin: np.ndarray
    season: np.ndarray
    mean: np.ndarray
    start: float
    end: float


def _objects(rng, n: int, survey: Survey, mag_range) -> _Objects:
    ra = rng.uniform(0.0, 360.0, n)
    dec = np.degrees(np.arcsin(rng.uniform(-1.0, 1.0, n)))
    season = rng.uniform(180.0, 240.0, n)
    opposition = MARCH_EQUINOX + (ra + 180.0) / 360.0 * YEAR  # the Sun is opposite the object: best visible
    origin = survey.start - np.mod(survey.start - (opposition - season / 2), YEAR)
    return _Objects(ra, dec, origin, season, rng.uniform(*mag_range, n), survey.start,
                    survey.start + survey.years * YEAR)


def _visible_before(t, origin, season):
    """Observable time (days) between ``origin`` and ``t``."""
    tau = t - origin
    k = np.floor(tau / YEAR)
    return k * season + np.minimum(tau - k * YEAR, season)


def _cadence(rng, survey: Survey, objs: _Objects, lo, hi, n_visits, synchronous):
    """Visits (object, band, time) spread uniformly over the observable part of each object's window [lo, hi)."""
    n, nb = len(n_visits), len(survey.bands)
    if synchronous:
        epochs = np.maximum(n_visits // nb, 1)
        counts = np.repeat(epochs[:, None], nb, axis=1)
    else:
        weights = np.array([BANDS[b].weight for b in survey.bands]) * rng.uniform(0.5, 1.5, (n, nb))
        counts = rng.multinomial(n_visits, weights / weights.sum(axis=1, keepdims=True))
        epochs = counts.sum(axis=1)
    epoch_obj = np.repeat(np.arange(n), epochs)
    v_lo = _visible_before(lo, objs.origin, objs.season)[epoch_obj]
    v_hi = _visible_before(hi, objs.origin, objs.season)[epoch_obj]
    v = v_lo + rng.random(len(epoch_obj)) * (v_hi - v_lo)
    season = objs.season[epoch_obj]
    t = objs.origin[epoch_obj] + np.floor(v / season) * YEAR + np.mod(v, season)
    night = np.round(t - survey.midnight) + survey.midnight
    t = night + np.clip(rng.normal(0.0, 0.08, len(t)), -0.2, 0.2)  # during the night, mostly near midnight
    obj = np.repeat(np.arange(n), counts.sum(axis=1))
    band = np.repeat(np.tile(np.arange(nb), n), counts.ravel())
    if synchronous:  # every band takes the object's epochs in turn
        first_epoch = np.repeat(np.cumsum(epochs) - epochs, counts.sum(axis=1))
        group_start = np.repeat(np.cumsum(counts.ravel()) - counts.ravel(), counts.ravel())
        t = t[first_epoch + np.arange(len(obj)) - group_start]
    return obj, band, t


def _observe(rng, survey: Survey, band, true_mag, detect_snr, outlier_fraction):
    """Measured magnitude, its error and whether the visit is a detection, from the sky+source noise model."""
    m5 = np.array([BANDS[b].m5 for b in survey.bands])[band] + rng.normal(0.0, M5_JITTER, len(band))
    with np.errstate(over="ignore"):
        flux = 10.0 ** (-0.4 * (true_mag - m5))  # in units of the 5-sigma flux; inf magnitude -> 0
    sigma = np.sqrt((survey.sigma_sys * flux) ** 2 + (0.04 - GAMMA) * flux + GAMMA) / POGSON
    measured = flux + sigma * rng.standard_normal(len(flux))
    snr = measured / sigma
    detected = snr >= detect_snr
    mag = m5[detected] - 2.5 * np.log10(measured[detected])
    error = POGSON / snr[detected]
    outlier = rng.random(len(mag)) < outlier_fraction
    mag[outlier] += rng.choice([-1.0, 1.0], outlier.sum()) * rng.uniform(0.5, 3.0, outlier.sum())
    return mag, error, detected


def _simulate_class(name, n, survey, rng, n_points, mag_range, outlier_fraction, detect_snr, synchronous):
    objs = _objects(rng, n, survey, mag_range)
    truth = MODELS[name](rng, objs)
    lo, hi = n_points
    if truth.window is None:
        n_visits = _log_uniform_int(rng, lo, hi, n)
        start, end = np.full(n, objs.start), np.full(n, objs.end)
    else:
        n_visits = _log_uniform_int(rng, min(lo, TRANSIENT_MAX_VISITS), min(hi, TRANSIENT_MAX_VISITS), n)
        start, end = truth.window
    obj, band, t = _cadence(rng, survey, objs, start, end, n_visits, synchronous)
    lam = np.array([BANDS[b].wavelength for b in survey.bands])[band]
    true_mag = objs.mean[obj] + truth.colour[obj] * (LAM_REF - lam) / (LAM_R - LAM_G) + truth.delta(obj, lam, t)
    mag, error, detected = _observe(rng, survey, band, true_mag, detect_snr, outlier_fraction)
    obj, band, t = obj[detected], band[detected], t[detected]
    order = np.lexsort((band, t, obj))
    obs = {"object": obj[order], "time": t[order], "band": band[order], "value": mag[order], "error": error[order]}
    nan = np.full(n, np.nan)
    objects = {"label": np.full(n, name, dtype=object), "ra": objs.ra, "dec": objs.dec,
               "period": nan if truth.period is None else truth.period,
               "redshift": nan if truth.redshift is None else truth.redshift}
    return obs, objects


# ---------------------------------------------------------------------------------------------------------------
# Distributions and shapes


def _log_uniform(rng, lo, hi, n):
    return np.exp(rng.uniform(np.log(lo), np.log(hi), n))


def _log_uniform_int(rng, lo, hi, n):
    return np.minimum(np.floor(_log_uniform(rng, lo, hi + 1, n)), hi).astype(np.int64)


def _truncated_normal(rng, mean, sd, lo, hi, n):
    """Normal restricted to [lo, hi] by inverse CDF, so values do not pile up at the edges as clipping would."""
    a, b = ndtr((lo - mean) / sd), ndtr((hi - mean) / sd)
    return mean + sd * ndtri(a + (b - a) * rng.random(n))


def _band_scale(lam, alpha):
    """Amplitude at wavelength ``lam`` relative to 551 nm; held at the g value bluewards of g."""
    return (np.maximum(lam, LAM_G) / LAM_REF) ** -np.asarray(alpha)


@dataclass
class _Truth:
    """One class's objects: their true period, colour, and how their magnitude varies (delta at obj, lam, t)."""

    colour: np.ndarray
    delta: Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]
    period: np.ndarray | None = None
    redshift: np.ndarray | None = None
    window: tuple[np.ndarray, np.ndarray] | None = None  # transients: the stretch of time watched


# Cosine-series shape parameters (m = sum_k R_k cos(2 pi k phase + phi_k), R_1 = 1, phi_1 = 0): mean and spread of
# R21, R31, R41 and of phi21, phi31, phi41 (radians), from our fits to the Stripe 82 RR Lyrae light curves.
RRAB_SHAPE = ((0.44, 0.29, 0.18), (0.08, 0.09, 0.08), (3.95, 1.95, 0.10), (0.2, 0.45, 0.7))
RRC_SHAPE = ((0.14, 0.09, 0.06), (0.07, 0.05, 0.04), (4.75, 3.25, 2.20), (0.45, 0.95, 1.2))


def _shape(rng, n, shape):
    """Fourier coefficients (n, 4) drawn around ``shape``, scaled to unit peak-to-peak amplitude."""
    (r_mean, r_sd, phi_mean, phi_sd) = (np.array(s) for s in shape)
    ratio = np.column_stack([np.ones(n), np.abs(rng.normal(r_mean, r_sd, (n, 3)))])
    phase = np.column_stack([np.zeros(n), rng.normal(phi_mean, phi_sd, (n, 3))])
    grid = _fourier(np.linspace(0.0, 1.0, 256, endpoint=False)[None, :], ratio[:, None, :], phase[:, None, :])
    return ratio / np.ptp(grid, axis=1)[:, None], phase


def _fourier(phase, ratio, phi):
    k = np.arange(1, ratio.shape[-1] + 1)
    return np.sum(ratio * np.cos(2 * np.pi * k * phase[..., None] + phi), axis=-1)


def _pulsation(period, amplitude, alpha, ratio, phi, phase0):
    """Delta-magnitude function of Fourier-series pulsators with peak-to-peak ``amplitude`` at 551 nm."""
    def delta(obj, lam, t):
        return amplitude[obj] * _band_scale(lam, alpha[obj]) * _fourier(t / period[obj] + phase0[obj], ratio[obj],
                                                                        phi[obj])
    return delta


def _shape_mix(rng, n, shapes, use_second):
    """Per object, the shape of ``shapes[1]`` where ``use_second``, else of ``shapes[0]``."""
    r0, p0 = _shape(rng, n, shapes[0])
    r1, p1 = _shape(rng, n, shapes[1])
    return np.where(use_second[:, None], r1, r0), np.where(use_second[:, None], p1, p0)


# ---------------------------------------------------------------------------------------------------------------
# The classes. Each takes (rng, objs: _Objects) and returns a _Truth; the module docstring's table gives sources.


def _rrab(rng, objs):
    n = len(objs.mean)
    period = 10 ** _truncated_normal(rng, -0.238, 0.052, np.log10(0.42), np.log10(0.95), n)
    amp_g = np.clip(0.074 - 3.77 * np.log10(period) + rng.normal(0.0, 0.23, n), 0.25, 1.6)
    alpha = np.full(n, 1.3)
    ratio, phi = _shape(rng, n, RRAB_SHAPE)
    amplitude = amp_g / _band_scale(LAM_G, 1.3)
    return _Truth(rng.normal(0.275, 0.06, n), _pulsation(period, amplitude, alpha, ratio, phi, rng.random(n)), period)


def _rrc(rng, objs):
    n = len(objs.mean)
    period = 10 ** _truncated_normal(rng, -0.470, 0.054, np.log10(0.22), np.log10(0.50), n)
    amplitude = _truncated_normal(rng, 0.51, 0.09, 0.2, 0.8, n) / _band_scale(LAM_G, 1.3)
    ratio, phi = _shape(rng, n, RRC_SHAPE)
    return _Truth(rng.normal(0.12, 0.08, n), _pulsation(period, amplitude, np.full(n, 1.3), ratio, phi, rng.random(n)),
                  period)


def _cepheid(rng, objs):
    n = len(objs.mean)
    overtone = rng.random(n) < 0.4
    log_p = np.where(overtone, _truncated_normal(rng, 0.3, 0.15, -0.4, 0.7, n),
                     _truncated_normal(rng, 0.55, 0.25, 0.1, 1.8, n))
    amplitude = np.where(overtone, rng.uniform(0.15, 0.6, n), rng.uniform(0.3, 1.2, n))
    # fundamental-mode Cepheids are asymmetric like RRab (R21 0.25-0.5), first overtones nearly sinusoidal
    ratio, phi = _shape_mix(rng, n, (((0.38, 0.2, 0.1), (0.07, 0.06, 0.04), (3.95, 1.95, 0.1), (0.3, 0.5, 0.8)),
                                     RRC_SHAPE), overtone)
    period = 10 ** log_p
    return _Truth(rng.uniform(0.3, 0.9, n), _pulsation(period, amplitude, np.full(n, 1.3), ratio, phi, rng.random(n)),
                  period)


def _dsct(rng, objs):
    n = len(objs.mean)
    period = _log_uniform(rng, 0.03, 0.25, n)
    amplitude = _log_uniform(rng, 0.08, 0.9, n)
    ratio, phi = _shape(rng, n, ((0.2, 0.08, 0.04), (0.1, 0.05, 0.03), (3.95, 1.95, 0.1), (0.35, 0.6, 1.0)))
    main = _pulsation(period, amplitude, np.full(n, 1.3), ratio, phi, rng.random(n))
    second = np.where(rng.random(n) < 0.3, rng.uniform(0.2, 0.8, n), 0.0) * amplitude / 2
    period2, phase2 = period * rng.uniform(0.756, 0.78, n), rng.random(n)

    def delta(obj, lam, t):
        wave = np.cos(2 * np.pi * (t / period2[obj] + phase2[obj]))
        return main(obj, lam, t) + second[obj] * _band_scale(lam, 1.3) * wave
    return _Truth(rng.uniform(-0.05, 0.3, n), delta, period)


def _lpv(rng, objs):
    n = len(objs.mean)
    mira = rng.random(n) < 0.5
    period = np.where(mira, _log_uniform(rng, 100.0, 700.0, n), _log_uniform(rng, 30.0, 300.0, n))
    amplitude = np.where(mira, rng.uniform(2.5, 7.0, n), rng.uniform(0.2, 2.0, n))
    alpha = rng.uniform(2.0, 3.0, n)
    ratio, phi = _shape(rng, n, ((0.12, 0.05, 0.02), (0.07, 0.03, 0.02), (3.95, 1.95, 0.1), (0.5, 1.0, 1.5)))
    pulsation = _pulsation(period, amplitude, alpha, ratio, phi, rng.random(n))
    # cycle-to-cycle changes: a damped random walk of the mean, stronger for semi-regulars
    tau = rng.uniform(0.5, 2.0, n) * period
    wander = amplitude * np.where(mira, rng.uniform(0.03, 0.15, n), rng.uniform(0.1, 0.4, n))

    def delta(obj, lam, t):
        return pulsation(obj, lam, t) + _band_scale(lam, alpha[obj]) * _drw(rng, obj, t, tau, wander)
    return _Truth(rng.uniform(1.0, 1.6, n), delta, period)


def _eclipse(dphase, width, sharpness):
    """Eclipse profile of Mikulasek (2015): 1 at mid-eclipse, falling to 0 outside ``width``."""
    x = np.abs((dphase + 0.5) % 1.0 - 0.5) / width
    return 1.0 - (1.0 - np.exp(1.0 - np.cosh(np.minimum(x, 30.0)))) ** sharpness


def _eb_detached(rng, objs):
    n = len(objs.mean)
    period = _log_uniform(rng, 0.8, 50.0, n)
    depth = rng.uniform(0.1, 1.2, n)
    secondary = depth * rng.uniform(0.05, 1.0, n)
    primary_slope, secondary_slope = rng.uniform(-0.3, 0.3, n), rng.uniform(0.0, 1.5, n)  # cooler companion
    width, sharpness = rng.uniform(0.008, 0.04, n), rng.uniform(1.0, 3.0, n)
    second_phase = 0.5 + rng.uniform(-0.05, 0.05, n)  # eccentric orbits shift the secondary eclipse
    ellipsoidal, phase0 = rng.uniform(0.0, 0.05, n), rng.random(n)

    def delta(obj, lam, t):
        phase = t / period[obj] + phase0[obj]
        x = lam / LAM_REF
        d1 = depth[obj] * x ** primary_slope[obj]
        d2 = np.minimum(secondary[obj] * x ** secondary_slope[obj], 1.2 * d1)
        return (d1 * _eclipse(phase, width[obj], sharpness[obj])
                + d2 * _eclipse(phase - second_phase[obj], width[obj], sharpness[obj])
                + ellipsoidal[obj] * (1.0 - np.cos(4 * np.pi * phase)) / 2)
    return _Truth(rng.uniform(-0.3, 1.2, n), delta, period)


def _eb_contact(rng, objs):
    n = len(objs.mean)
    period = 10 ** _truncated_normal(rng, np.log10(0.37), 0.1, np.log10(0.22), 0.0, n)
    amplitude = rng.uniform(0.1, 0.8, n)
    unequal, oconnell = rng.uniform(0.0, 0.15, n), rng.uniform(-0.03, 0.03, n)
    alpha, phase0 = rng.uniform(0.0, 0.2, n), rng.random(n)

    def delta(obj, lam, t):
        phase = 2 * np.pi * (t / period[obj] + phase0[obj])
        shape = (1 + np.cos(2 * phase)) / 2 + unequal[obj] * (1 + np.cos(phase)) / 2
        return (amplitude[obj] * shape / (1 + unequal[obj]) + oconnell[obj] * np.sin(phase)) * _band_scale(lam,
                                                                                                           alpha[obj])
    return _Truth(rng.uniform(0.2, 0.9, n), delta, period)


def _qso(rng, objs):
    n = len(objs.mean)
    redshift = rng.uniform(0.2, 3.0, n)
    tau = 10 ** _truncated_normal(rng, 2.4, 0.3, 1.0, 3.7, n) * (1 + redshift)
    sf_inf = 10 ** _truncated_normal(rng, -0.7, 0.2, -1.5, 0.0, n)

    def delta(obj, lam, t):
        return _band_scale(lam, 0.48) * _drw(rng, obj, t, tau, sf_inf / np.sqrt(2))
    return _Truth(rng.uniform(-0.1, 0.4, n), delta, redshift=redshift)


def _nonvar(rng, objs):
    n = len(objs.mean)
    return _Truth(rng.uniform(-0.3, 1.5, n), lambda obj, lam, t: np.zeros(len(t)))


def _drw(rng, obj, t, tau, sigma):
    """Damped random walk (Ornstein-Uhlenbeck, stationary rms ``sigma``) at each object's times, all bands as one
    process; exact for any spacing, stepped in time order across all objects at once."""
    n = len(tau)
    order = np.lexsort((t, obj))
    counts = np.bincount(obj, minlength=n)
    first = np.cumsum(counts) - counts
    row, col = obj[order], np.arange(len(t)) - np.repeat(first, counts)
    times = np.full((n, max(int(counts.max(initial=0)), 1)), np.nan)
    times[row, col] = t[order]
    noise = rng.standard_normal(times.shape)
    walk = np.empty_like(times)
    walk[:, 0] = noise[:, 0]
    for j in range(1, times.shape[1]):
        a = np.exp(-(times[:, j] - times[:, j - 1]) / tau)
        walk[:, j] = a * walk[:, j - 1] + np.sqrt(1 - a * a) * noise[:, j]
    out = np.empty(len(t))
    out[order] = walk[row, col] * sigma[row]
    return out


# Supernovae: flux shapes in natural-log units, normalised to peak 0 in each band, so that delta = -POGSON * log f.


def _event_window(rng, objs, redshift):
    """Epoch (start of the rise) inside an observing season, and the stretch watched around it."""
    n_seasons = np.floor((objs.end - objs.origin) / YEAR) + 1
    season = np.floor(rng.random(len(redshift)) * n_seasons)
    t0 = np.clip(objs.origin + season * YEAR + rng.uniform(-20.0, objs.season - 30.0), objs.start, objs.end)
    stretch = 1 + redshift
    return t0, (np.maximum(t0 - 30.0 * stretch, objs.start), np.minimum(t0 + 220.0 * stretch, objs.end))


def _redshift(rng, peak, absolute, spread):
    """Redshift from the distance modulus between the peak magnitude and a drawn absolute one (Planck18; no
    K-correction)."""
    from astropy.cosmology import Planck18

    z_grid = np.geomspace(1e-3, 3.0, 400)
    return np.interp(peak - rng.normal(absolute, spread, len(peak)), Planck18.distmod(z_grid).value, z_grid)


def _normalised(log_flux, t0, stretch):
    """Delta magnitude from ``log_flux(obj, lam, t)``, zero at each object's peak in each band (found on a grid)."""
    def delta(obj, lam, t):
        pairs, which = np.unique(np.column_stack([obj, lam]), axis=0, return_inverse=True)
        o, wavelength = pairs[:, 0].astype(np.int64), pairs[:, 1]
        grid = t0[o, None] + np.linspace(-20.0, 200.0, 441)[None, :] * stretch[o, None]
        size = grid.shape[1]
        peak = log_flux(np.repeat(o, size), np.repeat(wavelength, size), grid.ravel()).reshape(grid.shape).max(axis=1)
        return -POGSON * (log_flux(obj, lam, t) - peak[which.ravel()])
    return delta


def _sn_ia(rng, objs):
    n = len(objs.mean)
    redshift = _redshift(rng, objs.mean, -19.3, 0.15)
    stretch = 1 + redshift
    t0, window = _event_window(rng, objs, redshift)
    rise, fall = rng.uniform(2.0, 4.0, n) * stretch, rng.uniform(18.0, 30.0, n) * stretch
    fall_slope = rng.uniform(1.0, 2.0, n)
    bump, bump_delay, bump_width = rng.uniform(0.2, 0.45, n), rng.uniform(22.0, 30.0, n) * stretch, rng.uniform(
        6.0, 10.0, n) * stretch

    def log_flux(obj, lam, t):
        dt = t - t0[obj]
        bazin = log_expit(dt / rise[obj]) - dt / (fall[obj] * (lam / LAM_REF) ** fall_slope[obj])
        strength = bump[obj] * np.clip((lam - 600.0) / 250.0, 0.0, 1.0)
        with np.errstate(divide="ignore"):
            second = np.log(strength) - (dt - bump_delay[obj]) ** 2 / (2 * bump_width[obj] ** 2)
        return np.logaddexp(bazin, second)
    return _Truth(rng.uniform(-0.1, 0.1, n), _normalised(log_flux, t0, stretch), redshift=redshift,
                  window=window)


def _sn_ii(rng, objs):
    n = len(objs.mean)
    redshift = _redshift(rng, objs.mean, -16.8, 0.9)
    stretch = 1 + redshift
    t0, window = _event_window(rng, objs, redshift)
    rise = rng.uniform(1.0, 4.0, n) * stretch
    plateau_decay = POGSON * 100.0 / _log_uniform(rng, 0.2, 3.0, n) * stretch  # e-folding time of the plateau
    blue_fade = rng.uniform(1.5, 3.0, n)  # the plateau fades faster in blue bands as the photosphere cools
    end, drop, drop_width = rng.uniform(60.0, 120.0, n) * stretch, rng.uniform(1.0, 2.5, n), rng.uniform(3.0, 8.0, n)
    tail_decay = 111.3 * stretch  # 56Co -> 56Fe e-folding time, days

    def log_flux(obj, lam, t):
        dt = t - t0[obj]
        decay = plateau_decay[obj] * (lam / LAM_REF) ** blue_fade[obj]
        plateau = -dt / decay + log_expit((end[obj] - dt) / drop_width[obj])
        tail = (-end[obj] / decay - drop[obj] / POGSON - (dt - end[obj]) / tail_decay[obj]
                + log_expit((dt - end[obj]) / drop_width[obj]))
        return log_expit(dt / rise[obj]) + np.logaddexp(plateau, tail)
    return _Truth(rng.uniform(0.0, 0.3, n), _normalised(log_flux, t0, stretch), redshift=redshift,
                  window=window)


MODELS = {"RRab": _rrab, "RRc": _rrc, "Cepheid": _cepheid, "EB_detached": _eb_detached, "EB_contact": _eb_contact,
          "DSCT": _dsct, "LPV": _lpv, "QSO": _qso, "SNIa": _sn_ia, "SNII": _sn_ii, "NonVar": _nonvar}


def simulate_dataset(out_dir: str | Path, shards: int, settings: dict, threads: int = 1) -> None:
    """The simulate rule: a survey simulated with ``settings`` (a data set's ``simulate`` section) into one Parquet
    long table per shard, and the objects' truth table.

    With ``n_objects`` set (a survey-scale corpus), each shard is simulated on its own (classes in equal shares,
    seeds ``[seed, shard]``) in ``threads`` processes, so memory is one shard's and time divides by the processes;
    ``labelled: false`` leaves the labels out (an unlabelled pretraining corpus)."""
    settings = dict(settings)
    n_objects, labelled = settings.pop("n_objects", None), settings.pop("labelled", True)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if n_objects is None:
        parts = [_simulate_parts(settings, out, shards, labelled)]
    else:
        from concurrent.futures import ProcessPoolExecutor

        settings.pop("n_per_class", None)
        counts = [shard_counts(n_objects, shards, k) for k in range(shards)]
        firsts = np.cumsum([0] + [sum(c.values()) for c in counts[:-1]]).tolist()
        jobs = [(settings, out, k, counts[k], firsts[k], labelled) for k in range(shards)]
        with ProcessPoolExecutor(max(1, min(threads, shards))) as pool:
            parts = list(progress(pool.map(_simulate_part, *zip(*jobs)), "simulating shards", total=shards))
    objects = pd.concat(parts, ignore_index=True)
    objects.to_parquet(out / "objects.parquet", index=False)
    log.info("simulated %d objects in %d shards", len(objects), shards)


def _simulate_parts(settings: dict, out: Path, shards: int, labelled: bool) -> pd.DataFrame:
    """One simulation split round-robin into ``shards`` parts; returns the objects table."""
    cat = simulate_survey(**settings)
    log.info("simulated %d objects, %d observations", cat.n_objects, cat.n_obs)
    part_of = dict(zip(cat.objects["object_id"], np.arange(cat.n_objects) % shards))
    part = cat.obs["object_id"].map(part_of).to_numpy()
    obs = _with_labels(cat, labelled)
    for k in range(shards):
        obs[part == k].to_parquet(out / f"part-{k:04d}.parquet", index=False)
    return cat.objects


def _simulate_part(settings: dict, out: Path, shard: int, counts: dict[str, int], first: int,
                   labelled: bool) -> pd.DataFrame:
    """Shard ``shard`` of a corpus (objects numbered from ``first``), simulated on its own; returns its objects."""
    cat = simulate_survey(counts, **{**settings, "seed": [settings.get("seed", 0), shard]}, first_id=first)
    _with_labels(cat, labelled).to_parquet(out / f"part-{shard:04d}.parquet", index=False)
    return cat.objects


def _with_labels(cat: Catalogue, labelled: bool) -> pd.DataFrame:
    """The observations as a long table, with each object's label (empty when the corpus is unlabelled)."""
    if not labelled:
        return cat.obs.assign(label=pd.array([None] * cat.n_obs, dtype="string"))
    labels = cat.objects.set_index("object_id")["label"]
    return cat.obs.assign(label=cat.obs["object_id"].map(labels).astype("string"))


def shard_counts(n_objects: int, shards: int, shard: int) -> dict[str, int]:
    """Objects of each class in shard ``shard`` of a corpus of ``n_objects``: classes and shards in equal shares,
    the remainders to the first ones."""
    total = n_objects // shards + (shard < n_objects % shards)
    return {c: total // len(CLASSES) + (i < total % len(CLASSES)) for i, c in enumerate(CLASSES)}
