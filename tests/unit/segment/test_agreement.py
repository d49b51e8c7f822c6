"""Volume-aware fold agreement: stray voxels are no disagreement, a missed lesion is."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.segment.agreement import METASTASIS_MIN_VOLUME_ML, fold_agreement
from pipeline.segment.confidence import combine
from pipeline.segment.config import ConfidenceConfig
from pipeline.structures import Structure

VOXEL_ML = 0.001  # 1 mm isotropic voxels
SHAPE = (40, 40, 40)


def _ball(centre: tuple[int, int, int], volume_ml: float) -> np.ndarray:
    """A voxelised sphere of about ``volume_ml`` on a 1 mm grid."""
    radius = (3.0 * volume_ml / VOXEL_ML / (4.0 * np.pi)) ** (1.0 / 3.0)
    z, y, x = np.ogrid[:SHAPE[0], :SHAPE[1], :SHAPE[2]]
    return np.asarray(((z - centre[0]) ** 2 + (y - centre[1]) ** 2
                       + (x - centre[2]) ** 2) <= radius ** 2)


def _stray(n: int) -> np.ndarray:
    mask = np.zeros(SHAPE, bool)
    mask[0, 0, :n] = True
    return mask


def test_plain_pairwise_dice_over_three_folds() -> None:
    a = np.zeros((4, 4, 4), bool)
    a[:2] = True                        # 32 voxels
    c = np.zeros_like(a)
    c[:1] = True                        # 16 voxels, all inside a
    expected = np.mean([1.0, 2 * 16 / 48, 2 * 16 / 48])
    assert fold_agreement([a, a.copy(), c], VOXEL_ML) == pytest.approx(expected)


def test_undefined_with_one_fold_or_nothing_found() -> None:
    a = np.ones((2, 2, 2), bool)
    assert fold_agreement([a], VOXEL_ML) is None
    assert fold_agreement([~a, ~a], VOXEL_ML) is None


def test_a_few_stray_voxels_in_one_fold_are_no_disagreement() -> None:
    empty = np.zeros(SHAPE, bool)
    strays = _stray(20)                 # 0.02 mL of "tumour"
    assert fold_agreement([strays, empty], VOXEL_ML) == 0.0  # what plain Dice says
    assert fold_agreement([strays, empty], VOXEL_ML, METASTASIS_MIN_VOLUME_ML) is None
    # Nor do strays beside a lesion both folds find lower the agreement much.
    lesion = _ball((20, 20, 20), 5.0)
    assert fold_agreement([lesion | strays, lesion], VOXEL_ML,
                          METASTASIS_MIN_VOLUME_ML) == pytest.approx(1.0, abs=0.01)


def test_a_real_lesion_missed_by_one_fold_is_a_disagreement() -> None:
    lesion = _ball((20, 20, 20), 5.0)
    assert 4.5 < lesion.sum() * VOXEL_ML < 5.5
    assert fold_agreement([lesion, np.zeros(SHAPE, bool)], VOXEL_ML,
                          METASTASIS_MIN_VOLUME_ML) == 0.0
    assert fold_agreement([lesion, _stray(20)], VOXEL_ML, METASTASIS_MIN_VOLUME_ML) == 0.0


def test_stray_tumour_voxels_no_longer_recommend_review() -> None:
    """The issue's case: liver agrees, one fold has a few voxels of tumour, the other none."""
    cfg = ConfidenceConfig()
    assert cfg.agreement_min_volume_ml[Structure.METASTASIS] == METASTASIS_MIN_VOLUME_ML
    metastasis = fold_agreement([_stray(20), np.zeros(SHAPE, bool)], VOXEL_ML,
                                cfg.agreement_min_volume_ml[Structure.METASTASIS])
    conf = combine({Structure.LIVER: 0.97, Structure.METASTASIS: metastasis},
                   {Structure.LIVER: 1500.0}, None, 2.5, cfg)
    assert conf.terms["agreement"] == pytest.approx(0.97)
    assert not conf.review_recommended, conf.reasons
    missed = fold_agreement([_ball((20, 20, 20), 5.0), np.zeros(SHAPE, bool)], VOXEL_ML,
                            cfg.agreement_min_volume_ml[Structure.METASTASIS])
    conf = combine({Structure.LIVER: 0.97, Structure.METASTASIS: missed},
                   {Structure.LIVER: 1500.0, Structure.METASTASIS: 2.5}, 5.0, 2.5, cfg)
    assert conf.terms["agreement"] == pytest.approx(0.485)
    assert conf.review_recommended
