"""Volume agreement of a predicted and a reference mask.

Empty masks: both empty -> ratio 1, errors 0. Reference empty, prediction not -> ratio and
relative error NaN (no reference volume to divide by); the absolute error is defined.
"""

from __future__ import annotations

import math


def volume_metrics(pred_ml: float, ref_ml: float) -> dict[str, float]:
    """Volumes, their ratio and errors.

    Parameters
    ----------
    pred_ml, ref_ml : float
        Predicted and reference volumes, mL.

    Returns
    -------
    dict[str, float]
        ``volume_pred_ml``, ``volume_ref_ml`` (mL), ``volume_ratio`` = pred / ref,
        ``volume_error_ml`` = pred - ref (mL), ``volume_abs_error_ml`` = |pred - ref| (mL),
        ``volume_rel_error_pct`` = 100 (pred - ref) / ref (%).
    """
    error = pred_ml - ref_ml
    if ref_ml > 0:
        ratio, rel = pred_ml / ref_ml, 100.0 * error / ref_ml
    elif pred_ml == 0:
        ratio, rel = 1.0, 0.0
    else:
        ratio, rel = math.nan, math.nan
    return {"volume_pred_ml": pred_ml, "volume_ref_ml": ref_ml, "volume_ratio": ratio,
            "volume_error_ml": error, "volume_abs_error_ml": abs(error),
            "volume_rel_error_pct": rel}
