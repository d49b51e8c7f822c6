"""Dose-volume figures against hand-computed values on tiny arrays."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.dosimetry import dvh


@pytest.fixture
def ten_voxels() -> tuple[np.ndarray, np.ndarray]:
    """Doses 10, 20, ..., 100 Gy x 1.5 (15..150 Gy) in a 2x3x2 grid, 10 voxels in the mask."""
    dose = np.zeros((2, 3, 2))
    mask = np.zeros(dose.shape, bool)
    flat = np.flatnonzero(np.ones(dose.shape))[:10]
    rng = np.random.default_rng(0)
    values = 15.0 * np.arange(1, 11)          # 15, 30, ..., 150 Gy
    dose.flat[flat] = rng.permutation(values)  # order in the grid must not matter
    mask.flat[flat] = True
    dose.flat[10:] = 999.0                     # outside the region: never counted
    return dose, mask


def test_every_figure_of_ten_voxels(ten_voxels: tuple[np.ndarray, np.ndarray]) -> None:
    dose, mask = ten_voxels
    r = dvh.region_dose("lesion_1", dose, mask, voxel_ml=0.5)
    # Descending: 150 135 120 105 90 75 60 45 30 15.
    assert r.volume_ml == 5.0
    assert r.mean_gy == pytest.approx(82.5)       # 15 x 5.5
    assert r.max_gy == 150.0
    assert r.d50_gy == 90.0                      # 5th hottest
    assert r.d70_gy == 60.0                      # 7th hottest
    assert r.d90_gy == 30.0                      # 9th hottest
    assert r.d95_gy == 15.0                      # ceil(9.5) = 10th hottest
    assert r.v70_percent == 60.0                 # 75..150: 6 voxels
    assert r.v100_percent == 40.0                # 105..150
    assert r.v120_percent == 30.0                # 120 counts (at least 120 Gy)
    assert r.v205_percent == 0.0


def test_at_least_includes_the_level_and_dx_is_a_voxel_dose() -> None:
    doses = np.array([100.0, 100.0, 70.0, 10.0])
    sorted_desc = np.sort(doses)[::-1]
    assert dvh.volume_at_dose(sorted_desc, 100.0) == 50.0
    assert dvh.volume_at_dose(sorted_desc, 100.0001) == 0.0
    assert dvh.volume_at_dose(sorted_desc, 0.0) == 100.0
    assert dvh.dose_at_volume(sorted_desc, 25.0) == 100.0   # 1 voxel
    assert dvh.dose_at_volume(sorted_desc, 26.0) == 100.0   # ceil(1.04) = 2 voxels
    assert dvh.dose_at_volume(sorted_desc, 51.0) == 70.0    # 3 voxels
    assert dvh.dose_at_volume(sorted_desc, 100.0) == 10.0


def test_cumulative_dvh_levels_and_values() -> None:
    sorted_desc = np.array([30.0, 20.0, 20.0, 10.0])
    levels = dvh.dvh_levels(30.0, 10.0)
    np.testing.assert_array_equal(levels, [0.0, 10.0, 20.0, 30.0, 40.0])
    np.testing.assert_array_equal(dvh.cumulative_dvh(sorted_desc, levels),
                                  [100.0, 100.0, 75.0, 25.0, 0.0])


def test_empty_region_and_mismatched_grid_are_errors() -> None:
    with pytest.raises(dvh.EmptyRegionError):
        dvh.region_dose("x", np.ones((2, 2, 2)), np.zeros((2, 2, 2), bool), 1.0)
    with pytest.raises(ValueError, match="shape"):
        dvh.region_doses(np.ones((2, 2, 2)), np.ones((2, 2, 1), bool))
    with pytest.raises(ValueError, match="percentage"):
        dvh.dose_at_volume(np.ones(3), 0.0)
