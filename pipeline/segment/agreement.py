"""Fold agreement that measures disagreement about the patient, not about a few voxels.

The folds of a model each predict the study; their mean pairwise Dice per structure is the
ensemble's agreement (``docs/clinical-sources.md`` §6). For a small or absent structure Dice
alone cries wolf: one fold predicting a few stray voxels of tumour where the other predicts none has
Dice 0, yet both say the patient has no tumour worth measuring. So a fold *finds* a
structure only when its mask holds at least a clinically relevant volume (mL, on the fold
label maps' grid), and a pair of folds counts towards the agreement only when at least one
of the two finds it: two folds that both find less agree (there is nothing to measure and
nothing to disagree about); a fold that finds a real lesion which the other misses
disagrees, with its Dice.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from pipeline.segment.geometry import dice

METASTASIS_MIN_VOLUME_ML = 0.5
"""Smallest metastasis volume a fold must find for its metastasis mask to count, mL.

A sphere of 10 mm diameter, the smallest lesion RECIST 1.1 calls measurable
(``docs/clinical-sources.md`` §5), holds pi/6 x (1 cm)^3 = 0.52 mL; less tumour than that in a
fold is below what a treating team would act on, and is where stray voxels of one fold lie."""


def fold_agreement(masks: Sequence[NDArray[np.bool_]], voxel_ml: float,
                   min_volume_ml: float = 0.0) -> float | None:
    """Mean pairwise Dice over the pairs of folds of which at least one finds the structure.

    Parameters
    ----------
    masks : sequence of ndarray of bool
        One mask per fold, same shape.
    voxel_ml : float
        Volume of one voxel of the masks, mL.
    min_volume_ml : float
        Volume a fold's mask must reach (and at least one voxel) for the fold to find the
        structure, mL; 0 counts any voxel.

    Returns
    -------
    float or None
        Mean Dice in [0, 1] over the pairs counted; None with fewer than two folds or when
        no fold finds the structure.
    """
    found = [bool(m.any()) and float(np.count_nonzero(m)) * voxel_ml >= min_volume_ml
             for m in masks]
    pairs = [(a, b) for (a, found_a), (b, found_b)
             in itertools.combinations(zip(masks, found, strict=True), 2) if found_a or found_b]
    if not pairs:
        return None
    return float(np.mean([dice(a, b) for a, b in pairs]))
