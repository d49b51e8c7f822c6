"""Lesion-level detection: connected components matched by overlap.

Lesions are the 26-connected components of the metastasis masks. A reference lesion is
*detected* when at least ``min_overlap_voxels`` of its voxels are predicted as metastasis
(by any predicted lesion); a predicted lesion is a *false positive* when fewer than
``min_overlap_voxels`` of its voxels lie in reference lesions. Size: the diameter of the
sphere of equal volume; "large" lesions are those of at least 10 mm
(:data:`pipeline.segment.metrics.LARGE_LESION_MM`). Sensitivity is NaN for a case with no
reference lesion (of that size).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
from numpy.typing import NDArray
from scipy import ndimage

from pipeline.segment.metrics import LARGE_LESION_MM
from pipeline.validate.metrics.crop import crop_to_union

_FULL = np.ones((3, 3, 3), bool)


@dataclass(frozen=True)
class LesionDetection:
    """Lesion counts of one case.

    Parameters
    ----------
    n_reference : int
        Reference lesions.
    n_detected : int
        Reference lesions detected.
    n_predicted : int
        Predicted lesions.
    n_false_positive : int
        Predicted lesions overlapping no reference lesion.
    n_reference_large, n_detected_large : int
        The same counts for reference lesions of at least ``large_mm``.
    """

    n_reference: int
    n_detected: int
    n_predicted: int
    n_false_positive: int
    n_reference_large: int
    n_detected_large: int

    @property
    def sensitivity(self) -> float:
        """Detected / reference lesions (NaN without reference lesions)."""
        return self.n_detected / self.n_reference if self.n_reference else float("nan")

    @property
    def sensitivity_large(self) -> float:
        """Detected / reference lesions of at least the large size (NaN without any)."""
        return (self.n_detected_large / self.n_reference_large if self.n_reference_large
                else float("nan"))

    def to_dict(self) -> dict[str, float]:
        """Counts plus ``sensitivity`` and ``sensitivity_large``."""
        return {**asdict(self), "sensitivity": self.sensitivity,
                "sensitivity_large": self.sensitivity_large}


def equivalent_diameters_mm(labels: NDArray[np.int32], n: int,
                            spacing_mm: Sequence[float]) -> NDArray[np.float64]:
    """Equal-volume sphere diameter of components 1..n of a component map, mm (index 0 = 0)."""
    counts = np.bincount(labels.ravel(), minlength=n + 1).astype(float)
    counts[0] = 0.0
    return np.asarray(np.cbrt(6.0 * counts * float(np.prod(spacing_mm)) / np.pi))


def detect_lesions(pred: NDArray[np.bool_], ref: NDArray[np.bool_],
                   spacing_mm: Sequence[float], min_overlap_voxels: int = 1,
                   large_mm: float = LARGE_LESION_MM) -> LesionDetection:
    """Match predicted and reference lesions of one case.

    Parameters
    ----------
    pred, ref : ndarray of bool, shape (z, y, x)
        Predicted and reference metastasis masks on the same grid.
    spacing_mm : sequence of float
        Voxel spacing (z, y, x), mm.
    min_overlap_voxels : int
        Overlap that counts as a match, voxels.
    large_mm : float
        Equivalent diameter from which a reference lesion counts as large, mm.

    Returns
    -------
    LesionDetection
        Counts (see the module docstring for the matching rule).
    """
    if not (pred.any() or ref.any()):
        return LesionDetection(0, 0, 0, 0, 0, 0)
    pred, ref = crop_to_union(pred, ref)
    ref_lab, n_ref = ndimage.label(ref, structure=_FULL)
    pred_lab, n_pred = ndimage.label(pred, structure=_FULL)
    hit_ref = np.bincount(ref_lab[pred], minlength=n_ref + 1)
    hit_pred = np.bincount(pred_lab[ref], minlength=n_pred + 1)
    detected = hit_ref[1:] >= min_overlap_voxels
    large = equivalent_diameters_mm(ref_lab, n_ref, spacing_mm)[1:] >= large_mm
    return LesionDetection(
        n_reference=int(n_ref), n_detected=int(detected.sum()), n_predicted=int(n_pred),
        n_false_positive=int((hit_pred[1:] < min_overlap_voxels).sum()),
        n_reference_large=int(large.sum()), n_detected_large=int((detected & large).sum()))
