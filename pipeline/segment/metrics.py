"""Accuracy of a segmentation against ground truth in the demo label values.

Used by ``bench/segment.py`` and the demo-model test to report the figures of
``docs/demo-model.md``: liver Dice (union of the liver parts), Dice per Couinaud segment,
Dice of metastases of at least 10 mm, liver volume error, vessel Dice.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy import ndimage

from pipeline.segment.geometry import dice
from pipeline.structures import COUINAUD_SEGMENTS, DEMO_LABELS, Structure, liver_labels

LARGE_LESION_MM = 10.0
"""Equivalent-sphere diameter from which a metastasis counts as large, mm."""


def large_lesions(mask: NDArray[np.bool_], spacing_mm: Sequence[float],
                  min_diameter_mm: float = LARGE_LESION_MM) -> NDArray[np.bool_]:
    """Components of ``mask`` whose equivalent-sphere diameter is at least ``min_diameter_mm``."""
    lab, n = ndimage.label(mask, structure=np.ones((3, 3, 3), bool))
    counts = np.bincount(lab.ravel(), minlength=n + 1).astype(float)
    volume_mm3 = counts * float(np.prod(spacing_mm))
    diameter = np.cbrt(6.0 * volume_mm3 / np.pi)
    keep = diameter >= min_diameter_mm
    keep[0] = False
    return np.asarray(keep[lab])


def large_metastasis_masks(pred: NDArray[np.bool_], truth: NDArray[np.bool_],
                           spacing_mm: Sequence[float],
                           min_diameter_mm: float = LARGE_LESION_MM
                           ) -> tuple[NDArray[np.bool_], NDArray[np.bool_]]:
    """The masks compared for "metastases of at least 10 mm".

    Truth: its components of at least ``min_diameter_mm``. Prediction: its components that
    touch those, plus its own components of at least ``min_diameter_mm``.

    Parameters
    ----------
    pred, truth : ndarray of bool, shape (z, y, x)
        Predicted and true metastasis masks.
    spacing_mm : sequence of float
        Voxel spacing (z, y, x) in mm.
    min_diameter_mm : float
        Equivalent-sphere diameter from which a lesion counts, mm.

    Returns
    -------
    tuple of ndarray of bool
        (prediction, truth) restricted to the large lesions.
    """
    met_t = large_lesions(truth, spacing_mm, min_diameter_mm)
    lab, _ = ndimage.label(pred, structure=np.ones((3, 3, 3), bool))
    touching = np.unique(lab[met_t & (lab > 0)])
    met_p = np.isin(lab, touching[touching > 0]) | large_lesions(pred, spacing_mm,
                                                                 min_diameter_mm)
    return met_p, met_t


def evaluate(pred: NDArray[np.uint8], pred_labels: dict[int, Structure],
             truth: NDArray[np.uint8], spacing_mm: Sequence[float],
             truth_labels: dict[int, Structure] = DEMO_LABELS) -> dict[str, Any]:
    """Compare a label map with ground truth on the same grid.

    Large metastases: truth components of at least 10 mm against the predicted components
    that touch them or are themselves at least 10 mm.

    Parameters
    ----------
    pred, truth : ndarray of uint8, shape (z, y, x)
        Predicted and true label maps.
    pred_labels, truth_labels : dict[int, Structure]
        Their label value -> structure.
    spacing_mm : sequence of float
        Voxel spacing (z, y, x) in mm.

    Returns
    -------
    dict
        ``liver_dice``, ``liver_volume_error_pct``, ``couinaud_dice`` (per segment),
        ``couinaud_dice_mean``, ``metastasis_large_dice`` (None without large truth
        lesions), ``dice`` per other structure.
    """
    def mask(lm: NDArray[np.uint8], labels: dict[int, Structure],
             structure: Structure) -> NDArray[np.bool_]:
        return np.isin(lm, [v for v, s in labels.items() if s == structure])

    liver_p = np.isin(pred, liver_labels(pred_labels))
    liver_t = np.isin(truth, liver_labels(truth_labels))
    out: dict[str, Any] = {
        "liver_dice": dice(liver_p, liver_t),
        "liver_volume_error_pct": 100.0 * (float(liver_p.sum()) - float(liver_t.sum()))
        / max(float(liver_t.sum()), 1.0),
    }
    seg_dice = {s.value: dice(mask(pred, pred_labels, s), mask(truth, truth_labels, s))
                for s in COUINAUD_SEGMENTS if mask(truth, truth_labels, s).any()}
    out["couinaud_dice"] = seg_dice
    out["couinaud_dice_mean"] = float(np.mean(list(seg_dice.values()))) if seg_dice else None
    met_p, met_t = large_metastasis_masks(mask(pred, pred_labels, Structure.METASTASIS),
                                          mask(truth, truth_labels, Structure.METASTASIS),
                                          spacing_mm)
    out["metastasis_large_dice"] = dice(met_p, met_t) if met_t.any() else None
    out["dice"] = {s.value: dice(mask(pred, pred_labels, s), mask(truth, truth_labels, s))
                   for s in (Structure.PORTAL_VEIN, Structure.HEPATIC_VEIN, Structure.IVC)
                   if mask(truth, truth_labels, s).any()}
    return out
