"""Every figure of one case: per structure, and lesion-level detection.

Structures evaluated: those the reference can hold (its label mapping; the liver when it
holds liver parts), in :class:`pipeline.structures.Structure` order, plus
``metastasis_10mm`` (metastases of at least 10 mm, compared as in
:func:`pipeline.segment.metrics.large_metastasis_masks`) where the reference holds
metastases. clDice and Betti numbers are computed for the tubular structures (portal vein,
hepatic veins, IVC) only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from pipeline.segment.metrics import large_metastasis_masks
from pipeline.structures import Structure
from pipeline.validate.labelmaps import LabelImage, resample_onto
from pipeline.validate.metrics.lesions import detect_lesions
from pipeline.validate.metrics.overlap import confusion, overlap_metrics
from pipeline.validate.metrics.surface import surface_metrics
from pipeline.validate.metrics.topology import betti_numbers, cl_dice
from pipeline.validate.metrics.volume import volume_metrics

TUBULAR: tuple[Structure, ...] = (Structure.PORTAL_VEIN, Structure.HEPATIC_VEIN, Structure.IVC)
"""Structures that get clDice and Betti numbers."""

LARGE_METASTASIS = "metastasis_10mm"
"""Row name of the metastases of at least 10 mm."""

METRICS: tuple[str, ...] = (
    "dice", "jaccard", "precision", "recall", "fpr", "fnr", "hd_mm", "hd95_mm", "msd_mm",
    "nsd", "volume_pred_ml", "volume_ref_ml", "volume_ratio", "volume_error_ml",
    "volume_abs_error_ml", "volume_rel_error_pct", "cldice", "b0_pred", "b0_ref", "b1_pred",
    "b1_ref", "b0_error", "b1_error")
"""Every per-structure figure, in output column order (units in ``docs/validation.md``)."""


@dataclass(frozen=True)
class CaseFigures:
    """The figures of one case.

    Parameters
    ----------
    rows : list[dict]
        One per structure: ``structure``, ``reference_empty``, ``prediction_empty`` and the
        :data:`METRICS` (NaN where undefined; topology keys only for tubular structures).
    lesions : dict or None
        Lesion detection counts and sensitivities (None without a metastasis reference).
    """

    rows: list[dict[str, Any]] = field(default_factory=list)
    lesions: dict[str, float] | None = None


def structure_figures(pred: NDArray[np.bool_], ref: NDArray[np.bool_],
                      spacing_mm: tuple[float, float, float], voxel_ml: float,
                      tolerance_mm: float, tubular: bool) -> dict[str, Any]:
    """Overlap, surface, volume and (tubular) topology figures of one structure.

    Parameters
    ----------
    pred, ref : ndarray of bool, shape (z, y, x)
        Masks on the same grid.
    spacing_mm : tuple of float
        Voxel spacing (z, y, x), mm.
    voxel_ml : float
        Volume of one voxel, mL.
    tolerance_mm : float
        NSD tolerance, mm.
    tubular : bool
        Add clDice and Betti numbers.

    Returns
    -------
    dict
        ``reference_empty``, ``prediction_empty`` and the figures.
    """
    c = confusion(pred, ref)
    out: dict[str, Any] = {"reference_empty": c.tp + c.fn == 0,
                           "prediction_empty": c.tp + c.fp == 0}
    out.update(overlap_metrics(c))
    out.update(surface_metrics(pred, ref, spacing_mm, tolerance_mm))
    out.update(volume_metrics((c.tp + c.fp) * voxel_ml, (c.tp + c.fn) * voxel_ml))
    if tubular:
        bp, br = betti_numbers(pred), betti_numbers(ref)
        out.update({"cldice": cl_dice(pred, ref), "b0_pred": bp.b0, "b0_ref": br.b0,
                    "b1_pred": bp.b1, "b1_ref": br.b1, "b0_error": abs(bp.b0 - br.b0),
                    "b1_error": abs(bp.b1 - br.b1)})
    return out


def evaluate_case(pred: LabelImage, ref: LabelImage, tolerance_mm: float = 3.0) -> CaseFigures:
    """Compare a prediction with a reference (resampled onto the prediction's grid).

    Parameters
    ----------
    pred : LabelImage
        The prediction; its grid is the evaluation grid.
    ref : LabelImage
        The reference.
    tolerance_mm : float
        NSD tolerance, mm.

    Returns
    -------
    CaseFigures
        Per-structure rows and lesion detection.
    """
    ref = resample_onto(ref, pred.image)
    spacing, voxel_ml = pred.spacing_mm, pred.voxel_volume_ml
    rows: list[dict[str, Any]] = []
    lesions = None
    for structure in (s for s in Structure if s in ref.structures()):
        p, r = pred.mask(structure), ref.mask(structure)
        rows.append({"structure": structure.value, **structure_figures(
            p, r, spacing, voxel_ml, tolerance_mm, structure in TUBULAR)})
        if structure == Structure.METASTASIS:
            lp, lr = large_metastasis_masks(p, r, spacing)
            rows.append({"structure": LARGE_METASTASIS, **structure_figures(
                lp, lr, spacing, voxel_ml, tolerance_mm, False)})
            lesions = detect_lesions(p, r, spacing).to_dict()
    return CaseFigures(rows, lesions)


def finite_or_none(value: Any) -> Any:
    """``value`` with NaN and infinities replaced by None (for JSON), recursively."""
    if isinstance(value, dict):
        return {k: finite_or_none(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [finite_or_none(v) for v in value]
    if isinstance(value, float | np.floating):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, np.integer | np.bool_):
        return value.item()
    return value
