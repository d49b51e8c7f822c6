"""Lungs by threshold: the two lungs kept, outside air and small gas left out."""

from __future__ import annotations

import numpy as np
import SimpleITK as sitk  # noqa: N813

from pipeline.dosimetry.lungs import lungs_from_ct


def _torso() -> tuple[np.ndarray, np.ndarray]:
    """40 slices of 60 x 80 at 5 mm: soft-tissue ellipse in air, two lungs, a gas bubble."""
    _, y, x = np.mgrid[0:40, 0:60, 0:80]
    hu = np.full((40, 60, 80), -1000.0)
    hu[((y - 30) / 25.0) ** 2 + ((x - 40) / 35.0) ** 2 <= 1] = 40.0
    lungs = np.zeros(hu.shape, bool)
    lungs[20:, 17:43, 15:35] = True          # right lung, 20 x 26 x 20 voxels (260 mL)
    lungs[20:, 17:43, 45:65] = True          # left lung; both reach the last slice
    hu[lungs] = -850.0
    hu[5:8, 28:31, 38:41] = -950.0           # bowel gas, 27 voxels (3.4 mL)
    return hu, lungs


def test_two_lungs_without_outside_air_or_bowel_gas() -> None:
    hu, truth = _torso()
    ct = sitk.GetImageFromArray(hu)
    ct.SetSpacing((5.0, 5.0, 5.0))
    found = lungs_from_ct(ct)
    np.testing.assert_array_equal(found, truth)


def test_small_or_absent_air_gives_an_empty_mask() -> None:
    hu, _ = _torso()
    ct = sitk.GetImageFromArray(hu)
    ct.SetSpacing((1.0, 1.0, 1.0))            # each lung is now 10.4 mL: below 100 mL
    assert not lungs_from_ct(ct).any()
    solid = sitk.GetImageFromArray(np.full((4, 4, 4), 40.0))
    assert not lungs_from_ct(solid).any()
