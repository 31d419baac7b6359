"""How good predicted redshifts are (torch-free, so the report reads the same bounds): R^2, the normalised median
absolute deviation of dz/(1+z), the outlier fraction and the Spectromer success rate."""
from __future__ import annotations

import numpy as np
from sklearn.metrics import r2_score

OUTLIER = 0.15  # |dz| / (1 + z) beyond which a redshift is an outlier
SUCCESS = {"QSO": 0.01001}  # Spectromer's success threshold on |dz| / (1 + z); 0.00334 for galaxies and stars
SUCCESS_DEFAULT = 0.00334


def redshift_metrics(z_true: np.ndarray, z_pred: np.ndarray, spec_class: np.ndarray) -> dict:
    """R^2, NMAD of dz/(1+z), outlier fraction (|dz|/(1+z) > 0.15) and Spectromer success rate, overall and per
    class."""
    def scores(t, p, c):
        if not len(t):
            return {"n": 0}
        dz = (p - t) / (1 + t)
        limit = np.array([SUCCESS.get(k, SUCCESS_DEFAULT) for k in c])
        return {"n": len(t), "r2": float(r2_score(t, p)) if len(t) > 1 else float("nan"),
                "nmad": float(1.4826 * np.median(np.abs(dz - np.median(dz)))),
                "outlier_fraction": float(np.mean(np.abs(dz) > OUTLIER)),
                "success_rate": float(np.mean(np.abs(dz) < limit))}

    known = np.isfinite(z_true)
    out = scores(z_true[known], z_pred[known], spec_class[known])
    out["per_class"] = {k: scores(z_true[known & (spec_class == k)], z_pred[known & (spec_class == k)],
                                  spec_class[known & (spec_class == k)]) for k in sorted(set(spec_class[known]))}
    return out
