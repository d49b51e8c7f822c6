"""Volume-aware fold agreement: stray voxels are no disagreement, a missed lesion is."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.segment.agreement import (
    METASTASIS_MIN_VOLUME_ML,
    component_volumes_ml,
    finds,
    fold_agreement,
)
from pipeline.segment.confidence import combine
from pipeline.segment.config import ConfidenceConfig
from pipeline.structures import Structure

VOXEL_ML = 0.001  # 1 mm isotropic voxels
SHAPE = (40, 40, 40)


def _ball(centre: tuple[int, int, int], volume_ml: float) -> np.ndarray:
    """A voxelised sphere of about ``volume_ml`` on a 1 mm grid."""
    radius = (3.0 * volume_ml / VOXEL_ML / (4.0 * np.pi)) ** (1.0 / 3.0)
    z, y, x = np.ogrid[: SHAPE[0], : SHAPE[1], : SHAPE[2]]
    return np.asarray(
        ((z - centre[0]) ** 2 + (y - centre[1]) ** 2 + (x - centre[2]) ** 2) <= radius**2
    )


def _stray(n: int) -> np.ndarray:
    mask = np.zeros(SHAPE, bool)
    mask[0, 0, :n] = True
    return mask


def test_plain_pairwise_dice_over_three_folds() -> None:
    a = np.zeros((4, 4, 4), bool)
    a[:2] = True  # 32 voxels
    c = np.zeros_like(a)
    c[:1] = True  # 16 voxels, all inside a
    expected = np.mean([1.0, 2 * 16 / 48, 2 * 16 / 48])
    assert fold_agreement([a, a.copy(), c], VOXEL_ML) == pytest.approx(expected)


def test_undefined_with_one_fold_or_nothing_found() -> None:
    a = np.ones((2, 2, 2), bool)
    assert fold_agreement([a], VOXEL_ML) is None
    assert fold_agreement([~a, ~a], VOXEL_ML) is None


def test_a_few_stray_voxels_in_one_fold_are_no_disagreement() -> None:
    empty = np.zeros(SHAPE, bool)
    strays = _stray(20)  # 0.02 mL of "tumour"
    assert fold_agreement([strays, empty], VOXEL_ML) == 0.0  # what plain Dice says
    assert fold_agreement([strays, empty], VOXEL_ML, METASTASIS_MIN_VOLUME_ML) is None
    # Nor do strays beside a lesion both folds find lower the agreement much.
    lesion = _ball((20, 20, 20), 5.0)
    assert fold_agreement(
        [lesion | strays, lesion], VOXEL_ML, METASTASIS_MIN_VOLUME_ML
    ) == pytest.approx(1.0, abs=0.01)


def _scattered(n_blobs: int, side: int) -> np.ndarray:
    """``n_blobs`` cubes of ``side`` voxels, 2 voxels apart (no 26-neighbour between)."""
    mask = np.zeros(SHAPE, bool)
    step = side + 2
    per_row = SHAPE[2] // step
    for i in range(n_blobs):
        z, x = 2 + step * (i // per_row), step * (i % per_row)
        mask[z : z + side, 20 : 20 + side, x : x + side] = True
    return mask


def test_scattered_blobs_are_not_a_lesion_one_lesion_is() -> None:
    """The issue's seed-11 fold: 13 blobs, 1.7 mL in all, none near 0.5 mL, finds nothing."""
    blobs = _scattered(13, 5)  # 13 x 0.125 mL = 1.625 mL, largest 0.125 mL
    assert len(component_volumes_ml(blobs, VOXEL_ML)) == 13
    assert blobs.sum() * VOXEL_ML > 3 * METASTASIS_MIN_VOLUME_ML
    assert not finds(blobs, VOXEL_ML, METASTASIS_MIN_VOLUME_ML)
    assert (
        fold_agreement([blobs, np.zeros(SHAPE, bool)], VOXEL_ML, METASTASIS_MIN_VOLUME_ML) is None
    )
    lesion = _ball((20, 20, 20), 1.6)  # the same volume as one lesion
    assert finds(lesion, VOXEL_ML, METASTASIS_MIN_VOLUME_ML)
    assert (
        fold_agreement([lesion, np.zeros(SHAPE, bool)], VOXEL_ML, METASTASIS_MIN_VOLUME_ML) == 0.0
    )


def test_components_touching_at_a_corner_are_one_lesion() -> None:
    """26-connectivity: two 0.3 mL cubes sharing one corner voxel make a 0.6 mL lesion."""
    mask = np.zeros(SHAPE, bool)
    mask[0:6, 0:10, 0:5] = True  # 300 voxels
    mask[6:12, 10:20, 5:10] = True  # 300 voxels, touching at the corner (5, 9, 4)-(6, 10, 5)
    assert component_volumes_ml(mask, VOXEL_ML) == pytest.approx([0.6])
    assert finds(mask, VOXEL_ML, METASTASIS_MIN_VOLUME_ML)
    mask[6:12, 10:20, 5] = False  # now apart: two 0.25 mL / 0.3 mL pieces
    assert component_volumes_ml(mask, VOXEL_ML) == pytest.approx([0.3, 0.24])
    assert not finds(mask, VOXEL_ML, METASTASIS_MIN_VOLUME_ML)


def test_any_voxel_is_found_without_a_minimum() -> None:
    assert finds(_stray(1), VOXEL_ML, 0.0)
    assert not finds(np.zeros(SHAPE, bool), VOXEL_ML, 0.0)


def test_a_real_lesion_missed_by_one_fold_is_a_disagreement() -> None:
    lesion = _ball((20, 20, 20), 5.0)
    assert 4.5 < lesion.sum() * VOXEL_ML < 5.5
    assert (
        fold_agreement([lesion, np.zeros(SHAPE, bool)], VOXEL_ML, METASTASIS_MIN_VOLUME_ML) == 0.0
    )
    assert fold_agreement([lesion, _stray(20)], VOXEL_ML, METASTASIS_MIN_VOLUME_ML) == 0.0


def test_stray_tumour_voxels_no_longer_recommend_review() -> None:
    """The issue's case: liver agrees, one fold has a few voxels of tumour, the other none."""
    cfg = ConfidenceConfig()
    assert cfg.agreement_min_volume_ml[Structure.METASTASIS] == METASTASIS_MIN_VOLUME_ML
    metastasis = fold_agreement(
        [_stray(20), np.zeros(SHAPE, bool)],
        VOXEL_ML,
        cfg.agreement_min_volume_ml[Structure.METASTASIS],
    )
    conf = combine(
        {Structure.LIVER: 0.97, Structure.METASTASIS: metastasis},
        {Structure.LIVER: 1500.0},
        None,
        2.5,
        cfg,
    )
    assert conf.terms["agreement"] == pytest.approx(0.97)
    assert not conf.review_recommended, conf.reasons
    missed = fold_agreement(
        [_ball((20, 20, 20), 5.0), np.zeros(SHAPE, bool)],
        VOXEL_ML,
        cfg.agreement_min_volume_ml[Structure.METASTASIS],
    )
    conf = combine(
        {Structure.LIVER: 0.97, Structure.METASTASIS: missed},
        {Structure.LIVER: 1500.0, Structure.METASTASIS: 2.5},
        5.0,
        2.5,
        cfg,
    )
    assert conf.terms["agreement"] == pytest.approx(0.485)
    assert conf.review_recommended
