"""What the job page shows of an image-based SIRT dosimetry (``result.json`` key
``dosimetry``, :mod:`pipeline.run.dosimetry`): LSF (and the planar views' beside it), T/N,
their source, the quality of each emission CT's registration to the planning CT, the figures
per region of the MAA prediction and of the Y-90 PET measurement, and the DVH plot of the
result folder.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dicomnode.audit.rows import JobDetail
from dicomnode.web.plan_view import result_folder
from pipeline.dosimetry.config import DVH_FILE

REGION_FIGURES = (
    "volume_ml",
    "mean_gy",
    "d50_gy",
    "d70_gy",
    "d90_gy",
    "v70_percent",
    "v100_percent",
    "v205_percent",
)
"""Columns of the dashboard's region table (every figure is in result.json and the SR)."""


@dataclass(frozen=True)
class DoseRow:
    """One region of one dose distribution.

    Parameters
    ----------
    source : str
        ``MAA SPECT (predicted)`` or ``Y-90 PET (measured)``.
    region : str
        Region name.
    figures : tuple of float or None
        The :data:`REGION_FIGURES` of the region, in that order.
    """

    source: str
    region: str
    figures: tuple[float | None, ...]


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _rows(section: dict[str, Any], source: str) -> list[DoseRow]:
    return [
        DoseRow(source, str(r.get("name", "")), tuple(_number(r.get(k)) for k in REGION_FIGURES))
        for r in section.get("regions") or []
        if isinstance(r, dict)
    ]


@dataclass(frozen=True)
class RegistrationQuality:
    """How well one emission study's CT matched the planning CT after registration.

    Parameters
    ----------
    source : str
        ``MAA SPECT/CT`` or ``Y-90 PET/CT``.
    ncc : float or None
        Normalised cross-correlation of the HU images inside the planning body (-1..1).
    body_dice : float or None
        Dice of the body masks (0..1).
    """

    source: str
    ncc: float | None
    body_dice: float | None


def _registration(section: dict[str, Any], source: str) -> list[RegistrationQuality]:
    """The section's registration figures (none: no registration, e.g. the emission image
    was already on the planning CT's frame)."""
    found = section.get("registration")
    if not isinstance(found, dict):
        return []
    return [RegistrationQuality(source, _number(found.get("ncc")), _number(found.get("body_dice")))]


def dosimetry_view(result: dict[str, Any]) -> dict[str, Any] | None:
    """The dosimetry part of the job page (None: the job had no NM/PET images)."""
    section = result.get("dosimetry")
    if not isinstance(section, dict):
        return None
    found = section.get("post_treatment")
    post: dict[str, Any] = found if isinstance(found, dict) else {}
    lsf = _number(section.get("lsf"))
    found = section.get("planar")
    planar: dict[str, Any] = found if isinstance(found, dict) else {}
    planar_lsf = _number(planar.get("lsf"))
    return {
        "lsf_percent": None if lsf is None else 100.0 * lsf,
        "lsf_method": section.get("lsf_method"),
        "planar_lsf_percent": None if planar_lsf is None else 100.0 * planar_lsf,
        "planar_error": planar.get("error"),
        "tn_ratio": _number(section.get("tn_ratio")),
        "post_tn_ratio": _number(post.get("tn_ratio")),
        "source": section.get("source"),
        "post_source": post.get("source"),
        "administered_gbq": _number(section.get("administered_gbq")),
        "errors": [e for e in (section.get("error"), post.get("error")) if e],
        "registrations": _registration(section, "MAA SPECT/CT")
        + _registration(post, "Y-90 PET/CT"),
        "rows": _rows(section, "MAA SPECT (predicted)") + _rows(post, "Y-90 PET (measured)"),
        "columns": REGION_FIGURES,
    }


def dvh_image(detail: JobDetail) -> Path | None:
    """The DVH plot of the job's result folder, if it is there."""
    folder = result_folder(detail)
    path = None if folder is None else folder / DVH_FILE
    return path if path is not None and path.is_file() else None
