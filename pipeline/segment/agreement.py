"""Fold agreement that measures disagreement about the patient, not about a few voxels.

The folds of a model each predict the study; their mean pairwise Dice per structure is the
ensemble's agreement (``docs/clinical-sources.md`` §6). For a small or absent structure Dice
alone cries wolf: one fold predicting a few stray voxels of tumour where the other predicts none has
Dice 0, yet both say the patient has no tumour worth measuring. So a fold *finds* a
structure only when one connected component of its mask (26-connectivity) holds at least a
clinically relevant volume (mL, on the fold label maps' grid): thirteen scattered blobs of
0.1 mL are not a 1.3 mL lesion. A pair of folds counts towards the agreement only when at
least one of the two finds the structure: two folds that both find less agree (there is
nothing to measure and nothing to disagree about); a fold that finds a real lesion which
the other misses disagrees, with its Dice.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray
from scipy import ndimage

from pipeline.segment.geometry import bounding_box, dice, value_counts

METASTASIS_MIN_VOLUME_ML = 0.5
"""Smallest metastasis a fold must find, as one connected component, for its metastasis
mask to count, mL.

A sphere of 10 mm diameter, the smallest lesion RECIST 1.1 calls measurable
(``docs/clinical-sources.md`` §5), holds pi/6 x (1 cm)^3 = 0.52 mL; a smaller lesion is below what a
treating team would act on, and is where stray voxels of one fold lie."""


def component_volumes_ml(mask: NDArray[np.bool_], voxel_ml: float) -> list[float]:
    """Volumes of the 26-connected components of a mask, largest first.

    Parameters
    ----------
    mask : ndarray of bool, shape (z, y, x)
        The mask.
    voxel_ml : float
        Volume of one voxel, mL.

    Returns
    -------
    list of float
        One volume per component, mL, largest first (empty for an empty mask).
    """
    box = bounding_box(mask, (1.0, 1.0, 1.0), 0.0)
    if box is None:
        return []
    lab, n = ndimage.label(mask[box], structure=np.ones((3, 3, 3), bool))
    counts = value_counts(lab, minlength=n + 1)[1:]
    return sorted((float(c) * voxel_ml for c in counts), reverse=True)


def finds(mask: NDArray[np.bool_], voxel_ml: float, min_volume_ml: float) -> bool:
    """Whether one connected component of a fold's mask reaches the minimum volume.

    Parameters
    ----------
    mask : ndarray of bool, shape (z, y, x)
        The fold's mask of the structure.
    voxel_ml : float
        Volume of one voxel, mL.
    min_volume_ml : float
        Volume the largest 26-connected component must reach, mL; 0 counts any voxel.

    Returns
    -------
    bool
        True when the mask holds at least one voxel and its largest component reaches
        ``min_volume_ml``.
    """
    if not mask.any():
        return False
    if min_volume_ml <= 0.0:
        return True
    if float(np.count_nonzero(mask)) * voxel_ml < min_volume_ml:
        return False  # not even all components together reach it
    return component_volumes_ml(mask, voxel_ml)[0] >= min_volume_ml


def fold_agreement(
    masks: Sequence[NDArray[np.bool_]], voxel_ml: float, min_volume_ml: float = 0.0
) -> float | None:
    """Mean pairwise Dice over the pairs of folds of which at least one finds the structure.

    Parameters
    ----------
    masks : sequence of ndarray of bool
        One mask per fold, same shape.
    voxel_ml : float
        Volume of one voxel of the masks, mL.
    min_volume_ml : float
        Volume one connected component of a fold's mask must reach for the fold to find
        the structure (:func:`finds`), mL; 0 counts any voxel.

    Returns
    -------
    float or None
        Mean Dice in [0, 1] over the pairs counted; None with fewer than two folds or when
        no fold finds the structure.
    """
    found = [finds(m, voxel_ml, min_volume_ml) for m in masks]
    pairs = [
        (a, b)
        for (a, found_a), (b, found_b) in itertools.combinations(zip(masks, found, strict=True), 2)
        if found_a or found_b
    ]
    if not pairs:
        return None
    return float(np.mean([dice(a, b) for a, b in pairs]))
