"""Activities of a SIRT plan at their reference times: Y-90 physical decay
(``docs/clinical-sources.md`` §3).

A vial's activity is stated at its calibration time; the plan computes the activity to inject
at administration. With both times known, the vial activity at calibration is
``A_vial(t_adm) x exp(ln 2 x (t_adm - t_cal) / T_half)`` (72 h at 64.1 h half-life: x 2.178).
Without a calibration time, every activity holds at administration and is labelled so.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from pipeline.quantify import dosimetry as dm


def hours_between(start: dt.datetime, end: dt.datetime) -> float:
    """Hours from ``start`` to ``end`` (negative if ``end`` is earlier)."""
    return (end - start).total_seconds() / 3600.0


def activity_timing(injected_gbq: float, residual_fraction: float | None,
                    calibration_time: dt.datetime | None,
                    administration_time: dt.datetime | None, half_life_h: float
                    ) -> dict[str, Any]:
    """The plan's activities, each with the time it holds for.

    Parameters
    ----------
    injected_gbq : float
        Activity to inject into the patient, at administration, GBq.
    residual_fraction : float or None
        Fraction left in vial and lines (None: unknown, no vial activity).
    calibration_time, administration_time : datetime or None
        Time the vial's activity is stated for, and time of administration.
    half_life_h : float
        Y-90 physical half-life, h.

    Returns
    -------
    dict
        ``injected_at_administration_gbq``, ``vial_at_administration_gbq``,
        ``administration_time``, ``calibration_time`` (ISO 8601 or None),
        ``hours_calibration_to_administration``, ``decay_factor`` (vial activity at
        calibration / at administration), ``vial_at_calibration_gbq``, ``half_life_h``,
        ``reference`` (what the activities refer to, in words) and ``missing``.
    """
    vial = None if residual_fraction is None else dm.vial_activity_gbq(injected_gbq,
                                                                        residual_fraction)
    missing = []
    hours = factor = at_calibration = None
    if calibration_time is not None:
        if administration_time is None:
            missing.append("administration_time")
        else:
            hours = hours_between(calibration_time, administration_time)
            factor = dm.decay_factor(hours, half_life_h)
        if vial is None:
            missing.append("residual_fraction")
        elif factor is not None:
            at_calibration = vial * factor
    reference = ("at administration" if at_calibration is None else
                 "at administration; vial activity also stated at calibration time")
    return {"injected_at_administration_gbq": injected_gbq,
            "vial_at_administration_gbq": vial,
            "administration_time": (None if administration_time is None
                                    else administration_time.isoformat()),
            "calibration_time": None if calibration_time is None else calibration_time.isoformat(),
            "hours_calibration_to_administration": hours, "decay_factor": factor,
            "vial_at_calibration_gbq": at_calibration, "half_life_h": half_life_h,
            "reference": reference, "missing": missing}
