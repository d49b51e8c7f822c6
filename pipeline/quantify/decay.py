"""Activities of a SIRT plan at their reference times: Y-90 physical decay
(``docs/clinical-sources.md`` §3).

A vial's activity is stated at its calibration time; the plan computes the activity to inject
at administration. With both times known, the vial activity at calibration is
``A_vial(t_adm) x exp(ln 2 x (t_adm - t_cal) / T_half)`` (72 h at 64.1 h half-life: x 2.178).
Without a calibration time, every activity holds at administration and is labelled so.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pipeline.quantify import dosimetry as dm


@dataclass(frozen=True)
class ActivityTiming:
    """The activities of one plan, each with the time it holds for.

    Parameters
    ----------
    injected_at_administration_gbq : float
        Activity to inject into the patient, at administration, GBq.
    vial_at_administration_gbq : float or None
        Vial activity including the residual, at administration, GBq.
    administration_time, calibration_time : datetime or None
        Time of administration and the vial's calibration time.
    hours_calibration_to_administration : float or None
        Hours from calibration to administration.
    decay_factor : float or None
        Vial activity at calibration / at administration.
    vial_at_calibration_gbq : float or None
        Vial activity at its calibration time, GBq.
    half_life_h : float
        Y-90 physical half-life, h.
    missing : tuple of str
        Inputs that prevented the activity at calibration.
    """

    injected_at_administration_gbq: float
    vial_at_administration_gbq: float | None
    administration_time: dt.datetime | None
    calibration_time: dt.datetime | None
    hours_calibration_to_administration: float | None
    decay_factor: float | None
    vial_at_calibration_gbq: float | None
    half_life_h: float
    missing: tuple[str, ...] = ()

    @property
    def reference(self) -> str:
        """What the activities refer to, in words."""
        return ("at administration" if self.vial_at_calibration_gbq is None else
                "at administration; vial activity also stated at calibration time")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready mapping (times as ISO 8601)."""
        return {"injected_at_administration_gbq": self.injected_at_administration_gbq,
                "vial_at_administration_gbq": self.vial_at_administration_gbq,
                "administration_time": _iso(self.administration_time),
                "calibration_time": _iso(self.calibration_time),
                "hours_calibration_to_administration":
                    self.hours_calibration_to_administration,
                "decay_factor": self.decay_factor,
                "vial_at_calibration_gbq": self.vial_at_calibration_gbq,
                "half_life_h": self.half_life_h, "reference": self.reference,
                "missing": list(self.missing)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ActivityTiming:
        """Read back :meth:`to_dict`."""
        return cls(
            injected_at_administration_gbq=float(data["injected_at_administration_gbq"]),
            vial_at_administration_gbq=data.get("vial_at_administration_gbq"),
            administration_time=_time(data.get("administration_time")),
            calibration_time=_time(data.get("calibration_time")),
            hours_calibration_to_administration=data.get("hours_calibration_to_administration"),
            decay_factor=data.get("decay_factor"),
            vial_at_calibration_gbq=data.get("vial_at_calibration_gbq"),
            half_life_h=float(data["half_life_h"]), missing=tuple(data.get("missing") or ()))


def _iso(time: dt.datetime | None) -> str | None:
    return None if time is None else time.isoformat()


def _time(text: str | None) -> dt.datetime | None:
    return None if not text else dt.datetime.fromisoformat(text)


def hours_between(start: dt.datetime, end: dt.datetime) -> float:
    """Hours from ``start`` to ``end`` (negative if ``end`` is earlier)."""
    return (end - start).total_seconds() / 3600.0


def activity_timing(injected_gbq: float, residual_fraction: float | None,
                    calibration_time: dt.datetime | None,
                    administration_time: dt.datetime | None, half_life_h: float
                    ) -> ActivityTiming:
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
    ActivityTiming
        The activities at administration and, with both times and the residual known, the
        vial activity at calibration.
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
    return ActivityTiming(
        injected_at_administration_gbq=injected_gbq, vial_at_administration_gbq=vial,
        administration_time=administration_time, calibration_time=calibration_time,
        hours_calibration_to_administration=hours, decay_factor=factor,
        vial_at_calibration_gbq=at_calibration, half_life_h=half_life_h,
        missing=tuple(missing))
