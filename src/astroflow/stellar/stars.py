"""Star tables in, masses and ages out: the reader behind `astroflow stellar TABLE` and the benchmark evaluation.

A table gives effective temperature and luminosity, either linear (teff in K, lum in Lsun) or log10 (log_teff,
log_lum), each with an optional error column (<name>_err), and [Fe/H] (feh, feh_err) for grids with metallicity as
an input. A Teff or L error that is not given (no column, or an empty value) is the default of InputErrors, recorded
per star and warned about, so a catalogue without errors does not get falsely narrow intervals; a missing [Fe/H]
error is zero. Column names are matched case-insensitively; ``columns`` maps other names. Rows whose values are
missing or not physical are kept, flagged in ``note``, and given no result.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from astroflow.errors import ConfigError, InputError
from astroflow.logs import log
from astroflow.tables import write_table

QUANTITIES = {"teff": "log_teff", "lum": "log_l", "feh": "feh"}  # linear column -> model input
LOG_NAMES = {"log_teff": "log_teff", "log_lum": "log_l", "log_l": "log_l", "feh": "feh"}


@dataclass
class InputErrors:
    """The errors of stars whose table gives none (schema section stellar.input_errors): catalogues of young clusters
    convert optical spectral types (Fang et al. 2021 find 68% of the ONC's within two subclasses of the literature's:
    about 1.5 subclasses, 5% in Teff, each) and correct photometry for extinction (0.25 mag in A_V: 0.1 dex in L)."""

    teff_fraction: float = 0.05  # sigma(Teff) / Teff
    log_lum: float = 0.1  # sigma(log10 L), dex

    def __post_init__(self):
        for key in ("teff_fraction", "log_lum"):
            if not getattr(self, key) >= 0:
                raise ConfigError(f"stellar.input_errors.{key}", f"{getattr(self, key)} must be 0 or more")

    def sigma(self, name: str) -> float | None:
        """The default error of a model input in its units (log10 K, dex), None for one without a default."""
        return {"log_teff": self.teff_fraction / np.log(10), "log_l": self.log_lum}.get(name)


def read_table(path: str | Path) -> pd.DataFrame:
    path = Path(path)
    if not path.exists():
        raise InputError(path, "does not exist")
    try:
        return pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path, sep=_delimiter(path))
    except (ValueError, OSError, UnicodeDecodeError, pd.errors.ParserError) as error:
        raise InputError(path, f"cannot be read as a table ({error})") from error


def _delimiter(path: Path) -> str:
    """The delimiter of a text table, told from its header line (comma when it has one column), so pandas' fast
    reader reads it: its sniffing reader took most of a benchmark job's reading."""
    import csv

    with open(path, newline="", encoding="utf-8-sig", errors="replace") as f:
        header = f.readline()
    try:
        delimiter = csv.Sniffer().sniff(header, delimiters=",;\t |").delimiter
    except csv.Error:
        return ","
    return r"\s+" if delimiter == " " else delimiter


def _numeric(table: pd.DataFrame, column: str, source: str | Path) -> np.ndarray:
    values = pd.to_numeric(table[column], errors="coerce")
    bad = values.isna() & table[column].notna() & (table[column].astype(str).str.strip() != "")
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise InputError(source, f"value {table[column].iloc[row]!r} is not a number", line=row + 2, field=column)
    return values.to_numpy(np.float64)


def model_inputs(table: pd.DataFrame, inputs: list[str], source: str | Path = "table",
                 columns: dict[str, str] | None = None, defaults: InputErrors | None = None
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The inputs [stars, inputs] and their errors in the model's units (log10 K, log10 Lsun, dex), a note per star
    ('' when usable), and [stars, inputs] whether the error is the default (``defaults``, InputErrors() when None)."""
    lower = {c.lower(): c for c in table.columns}
    lower.update({k.lower(): v for k, v in (columns or {}).items()})
    for v in (columns or {}).values():
        if v not in table.columns:
            raise InputError(source, f"mapped column {v!r} is not in the table (columns: {list(table.columns)})")
    x = np.full((len(table), len(inputs)), np.nan)
    sigma = np.full_like(x, np.nan)  # NaN: not given
    note = np.full(len(table), "", dtype=object)
    for i, name in enumerate(inputs):
        log_name = next((k for k, v in LOG_NAMES.items() if v == name and k in lower), None)
        linear = next((k for k, v in QUANTITIES.items() if v == name and k != "feh" and k in lower), None)
        if log_name is not None:
            x[:, i] = _numeric(table, lower[log_name], source)
            err = lower.get(f"{log_name}_err")
            if err is not None:
                sigma[:, i] = _numeric(table, err, source)
        elif linear is not None:
            values = _numeric(table, lower[linear], source)
            with np.errstate(all="ignore"):
                x[:, i] = np.where(values > 0, np.log10(values), np.nan)
            note[(values <= 0) & (note == "")] = f"{lower[linear]} not positive"
            err = lower.get(f"{linear}_err")
            if err is not None:
                with np.errstate(all="ignore"):
                    sigma[:, i] = _numeric(table, err, source) / (values * np.log(10))
        else:
            wanted = {"log_teff": "teff or log_teff", "log_l": "lum or log_lum", "feh": "feh"}[name]
            raise InputError(source, f"needs a column {wanted} (columns: {list(table.columns)})")
    defaults = defaults or InputErrors()
    fill = np.array([defaults.sigma(name) or 0.0 for name in inputs])
    defaulted = ~np.isfinite(sigma) & np.array([defaults.sigma(name) is not None for name in inputs])
    sigma = np.where(np.isfinite(sigma), np.abs(sigma), fill)
    note[~np.isfinite(x).all(axis=1) & (note == "")] = "missing value"
    return x, sigma, note, defaulted


def estimate(net, table: pd.DataFrame, source: str | Path = "table", columns: dict[str, str] | None = None,
             seed: int | None = None, defaults: InputErrors | None = None) -> pd.DataFrame:
    """The table with masses, ages, their 16-84% intervals and P(pre-MS) appended, and the input errors propagated
    (input_error_<input>; input_error_default names the inputs whose error is the default); stars outside the grid or
    with unusable inputs keep empty values and say why in ``note``."""
    x, sigma, note, defaulted = model_inputs(table, net.inputs, source, columns, defaults)
    usable = note == ""
    defaulted &= usable[:, None]
    for i, name in enumerate(net.inputs):
        if defaulted[:, i].any():
            value = sigma[defaulted[:, i], i][0]
            log.warning("%s: %d of %d stars have no %s error: %s (stellar.input_errors in the workflow, --teff-error / "
                        "--lum-error of astroflow stellar)", source, int(defaulted[:, i].sum()), int(usable.sum()), name,
                        f"the default {value:.3g} dex is propagated" if value else "none is propagated (default 0)")
    start = time.perf_counter()
    result = net.posterior(x[usable], sigma[usable], seed=seed)
    seconds = time.perf_counter() - start
    out = table.reset_index(drop=True).copy()
    for column in result.columns:
        out[column] = np.nan if result[column].dtype.kind == "f" else False
        out.loc[usable, column] = result[column].to_numpy()
    note[usable & out["outside_grid"].to_numpy(bool)] = "outside the grid (not extrapolated)"
    for i, name in enumerate(net.inputs):
        out[f"input_error_{name}"] = np.where(usable, sigma[:, i], np.nan)
    out["input_error_default"] = [" ".join(np.asarray(net.inputs)[row]) for row in defaulted]
    out["note"] = note
    log.info("%d stars in %.2f s (%.0f stars/s); %d outside the grid, %d with unusable inputs", int(usable.sum()),
             seconds, usable.sum() / max(seconds, 1e-9), int(out["outside_grid"].sum()), int((~usable).sum()))
    return out


def estimate_file(table_path: str | Path, models_dir: str | Path, out: str | Path, columns: dict[str, str] | None = None,
                  draws: int = 50, seed: int = 0, defaults: InputErrors | None = None) -> pd.DataFrame:
    """`astroflow stellar`: read a star table, estimate with the StelNet trained in ``models_dir``, write ``out``."""
    from astroflow.stellar.posterior import PriorConfig, StelNet

    root = Path(models_dir)
    models, tables = sorted((root / "models").glob("*/g*.pt")), root / "grid" / "tables.npz"
    calibration = root / "evaluate" / "calibration.parquet"
    if not models or not tables.exists():
        raise InputError(root, "is not a trained StelNet folder (models/<branch>/g<group>.pt and grid/tables.npz; "
                         "run the workflow's stellar rules first)")
    if not calibration.exists():
        log.warning("%s is missing (the stellar_evaluate rule makes it): intervals are the ensemble's spread and the "
                    "input errors alone, too narrow", calibration)
    net = StelNet(models, tables, PriorConfig(draws=draws, seed=seed), calibration if calibration.exists() else None)
    result = estimate(net, read_table(table_path), table_path, columns, defaults=defaults)
    write_table(result, out)
    return result
