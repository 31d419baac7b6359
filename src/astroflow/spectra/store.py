"""The spectral store: one Zarr v3 group per data set on one log10-wavelength grid, read with ``xarray.open_zarr``.

Layout::

    dimension pixel    loglam (float64, log10 Angstrom, vacuum; observed frame, or rest frame if ``frame`` says so)
    dimension object   object_id, class, subclass, source (str); z, teff, logg, feh (float64, NaN unknown);
                       snr (float32, median flux * sqrt(ivar) over good pixels)
    (object, pixel)    flux (float32, the input's flux density unit), ivar (float32), mask (uint8, non-zero bad)
    attributes         grid (start, stop, step), frame, flux_unit, provenance (JSON string)

Chunks hold whole spectra (``chunk_objects`` of them), so a batch of objects is one read per variable. Every input
spectrum is accounted for in the QC table (object_id, source, kept, reason); a store is written atomically.
"""
from __future__ import annotations

import json
import logging
import math
import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from astroflow.errors import InputError
from astroflow.spectra.formats.common import Spectrum
from astroflow.spectra.grid import Grid, resample, to_rest_frame
from astroflow.store import atomic_path

log = logging.getLogger("astroflow.spectra")
LABELS = ("class", "subclass", "z", "teff", "logg", "feh")
TEXT = ("object_id", "class", "subclass", "source")


@dataclass
class StoreConfig:
    """The grid, the frame and what a spectrum needs to be kept."""

    grid_start: float = 3.5523
    grid_stop: float = 4.0170
    grid_step: float = 1e-4
    rest_frame: bool = False  # shift every spectrum to its rest frame (objects without a redshift are dropped)
    snr_min: float = 1.0  # median per-pixel S/N below which a spectrum is dropped
    min_coverage: float = 0.3  # share of the grid with good pixels below which a spectrum is dropped
    chunk_objects: int = 256

    @property
    def grid(self) -> Grid:
        return Grid(self.grid_start, self.grid_stop, self.grid_step)


def median_snr(flux: np.ndarray, ivar: np.ndarray, mask: np.ndarray) -> float:
    good = (mask == 0) & (ivar > 0)
    return float(np.median(np.abs(flux[good]) * np.sqrt(ivar[good]))) if good.any() else 0.0


def assemble(spectra: Iterable[Spectrum], config: StoreConfig) -> tuple[dict, pd.DataFrame]:
    """Spectra resampled onto the grid (and shifted to rest frame if asked), those that fail a cut dropped:
    arrays and labels of the kept ones, and the QC table of all."""
    grid = config.grid
    kept: dict[str, list] = {k: [] for k in ("flux", "ivar", "mask", *TEXT, *LABELS[2:], "snr")}
    qc = []
    for s in spectra:
        reason = ""
        wavelength, flux, ivar = s.wavelength, s.flux, s.ivar
        if config.rest_frame:
            if not math.isfinite(s.z) or s.z <= -1:
                reason = "no redshift for the rest frame"
            else:
                wavelength, flux, ivar = to_rest_frame(wavelength, flux, ivar, s.z)
        if not reason:
            f, v, m = resample(wavelength, flux, ivar, grid, s.mask)
            coverage = float((m == 0).mean())
            snr = median_snr(f, v, m)
            if coverage == 0:
                reason = "no good pixels on the grid"
            elif coverage < config.min_coverage:
                reason = f"good pixels cover {coverage:.0%} of the grid (< {config.min_coverage:.0%})"
            elif snr < config.snr_min:
                reason = f"median S/N {snr:.2f} < {config.snr_min}"
        qc.append({"object_id": s.object_id, "source": s.source, "kept": not reason, "reason": reason})
        if reason:
            continue
        for name, value in (("flux", f), ("ivar", v), ("mask", m), ("snr", snr), ("object_id", s.object_id),
                            ("class", s.spec_class or ""), ("subclass", s.subclass or ""), ("source", s.source),
                            ("z", s.z), ("teff", s.teff), ("logg", s.logg), ("feh", s.feh)):
            kept[name].append(value)
    qc = pd.DataFrame(qc, columns=["object_id", "source", "kept", "reason"])
    if qc["object_id"].duplicated().any():
        raise InputError(qc.loc[qc["object_id"].duplicated(), "source"].iloc[0],
                         f"object id {qc.loc[qc['object_id'].duplicated(), 'object_id'].iloc[0]!r} is read twice")
    return kept, qc


def write(path: str | Path, kept: dict, config: StoreConfig, flux_unit: str, provenance: dict) -> None:
    """The kept spectra as a store at ``path``, atomically."""
    grid = config.grid
    n = len(kept["object_id"])
    if not n:
        log.warning("writing an empty spectral store (no spectra kept) to %s", path)

    def stack(name, dtype):
        return np.stack(kept[name]).astype(dtype) if n else np.zeros((0, grid.n), dtype=dtype)

    obj = {name: ("object", np.asarray(kept[name], dtype=object)) for name in TEXT}  # variable-length UTF-8
    obj.update({name: ("object", np.asarray(kept[name], dtype=np.float64)) for name in LABELS[2:]})
    obj["snr"] = ("object", np.asarray(kept["snr"], dtype=np.float32))
    ds = xr.Dataset(
        {"flux": (("object", "pixel"), stack("flux", np.float32), {"units": flux_unit}),
         "ivar": (("object", "pixel"), stack("ivar", np.float32)),
         "mask": (("object", "pixel"), stack("mask", np.uint8)), **obj},
        coords={"loglam": ("pixel", grid.loglam, {"units": "log10(Angstrom)"})},
        attrs={"grid": [grid.start, grid.stop, grid.step], "frame": "rest" if config.rest_frame else "observed",
               "flux_unit": flux_unit, "provenance": json.dumps(provenance)})
    chunk = max(1, min(config.chunk_objects, n or 1))
    encoding = {name: {"chunks": (chunk, grid.n)} for name in ("flux", "ivar", "mask")}
    with atomic_path(path) as tmp, warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Consolidated metadata", category=UserWarning)
        ds.to_zarr(tmp, zarr_format=3, consolidated=True, encoding=encoding)


def open_store(path: str | Path) -> xr.Dataset:
    """A spectral store, with a clear error if ``path`` is not one."""
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Consolidated metadata", category=UserWarning)
            ds = xr.open_zarr(path, consolidated=True)
    except (FileNotFoundError, OSError, ValueError, KeyError) as error:
        raise InputError(path, f"not a spectral store ({error})") from None
    missing = [v for v in ("flux", "ivar", "mask", "loglam", *TEXT) if v not in ds.variables]
    if missing:
        raise InputError(path, f"not a spectral store: no {missing}")
    return ds


def simulated_spectra(settings: dict, grid: Grid) -> Iterable[Spectrum]:
    """The simulator's spectra (``settings``: SimulateConfig fields) on ``grid``'s observed wavelengths."""
    from astroflow.spectra.simulate import SimulateConfig, simulate

    config = SimulateConfig(**{k: tuple(v) if isinstance(v, list) and k != "classes" else v
                               for k, v in settings.items()})
    flux, ivar, mask, table = simulate(config, grid)
    wavelength = grid.wavelength
    for i, row in enumerate(table.itertuples(index=False)):
        yield Spectrum(row.object_id, wavelength, flux[i], ivar[i], mask[i], "simulated", row._1, row.subclass,
                       row.z, row.teff, row.logg, row.feh)


def file_spectra(fmt: str, paths: Iterable[str | Path], qc: list[dict], on_bad_file: str) -> Iterable[Spectrum]:
    """The spectra of ``paths`` in format ``fmt``; an unreadable file raises, or with ``on_bad_file="skip"`` is
    recorded in ``qc`` and skipped."""
    from astroflow.spectra import formats

    for path in paths:
        try:
            yield from formats.read(fmt, path)
        except InputError as error:
            if on_bad_file != "skip":
                raise
            log.warning("skipped %s", error)
            qc.append({"object_id": "", "source": str(path), "kept": False, "reason": f"unreadable file: {error}"})


def build(out_store: str | Path, out_qc: str | Path, settings: dict, *, simulate: dict | None = None,
          fmt: str | None = None, path: str | Path | None = None, on_bad_file: str = "raise") -> pd.DataFrame:
    """The ``spectra_store`` stage: spectra simulated (``simulate``) or read (``fmt`` files at ``path``) into the
    store at ``out_store``, every input accounted for in the QC table ``out_qc``; returns the QC table."""
    from astroflow.provenance import code_version, config_hash, sha256_file
    from astroflow.spectra import formats

    config = StoreConfig(**settings)
    bad_files: list[dict] = []
    if simulate is not None:
        spectra, inputs, unit = simulated_spectra(simulate, config.grid), {}, "1e-17 erg s-1 cm-2 Angstrom-1"
    else:
        paths = formats.discover(fmt, path)
        spectra = file_spectra(fmt, paths, bad_files, on_bad_file)
        inputs = {str(p): sha256_file(p) for p in paths}
        unit = "counts" if fmt == "lamost" else "1e-17 erg s-1 cm-2 Angstrom-1"
    kept, qc = assemble(spectra, config)
    qc = pd.concat([qc, pd.DataFrame(bad_files, columns=qc.columns)], ignore_index=True) if bad_files else qc
    record = {"config_hash": config_hash({"store": settings, "simulate": simulate, "format": fmt}),
              "code_version": code_version(), "inputs": inputs}
    write(out_store, kept, config, unit, record)
    qc.to_parquet(out_qc, index=False)
    log.info("%d spectra kept, %d dropped: %s", int(qc["kept"].sum()), int((~qc["kept"]).sum()),
             qc.loc[~qc["kept"], "reason"].str.split(" ").str[0].value_counts().to_dict())
    return qc


def text(ds: xr.Dataset, name: str) -> np.ndarray:
    """A text variable of the store as a numpy array of str (stored as variable-length UTF-8)."""
    return np.asarray(ds[name].values.tolist(), dtype=str)
