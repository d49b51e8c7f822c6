"""Local-deposition dose: CLINICAL.md test vector 7, MAA scaling, PET decay correction."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.dosimetry import ldm
from pipeline.quantify.config import QuantificationConfig
from pipeline.quantify.constants import ConstantsPreset


def test_vector_7_uniform_1_mbq_per_ml_gives_48_22_gy() -> None:
    dose = ldm.dose_from_concentration(np.ones((3, 4, 5)), 49.67, 1.03)
    np.testing.assert_allclose(dose, 48.22, atol=0.005)   # 49.67 / 1.03 = 48.2233
    assert dose.shape == (3, 4, 5)


def test_vector_7_decay_factor_back_over_24_h() -> None:
    # Hand: exp(ln 2 x 24 / 64.1) = 2 ** 0.374415 = 1.29626.
    a = ldm.decay_corrected_to_administration(np.array([1.0e6]), 24.0, 64.1)
    assert a[0] == pytest.approx(1.2963, abs=5e-5)
    assert a[0] == pytest.approx(2.0 ** (24.0 / 64.1), rel=1e-12)


def test_pet_dose_uses_the_preset_constants() -> None:
    k = QuantificationConfig(constants_preset=ConstantsPreset.THERASPHERE_IFU).constants()
    dose = ldm.pet_dose(np.full((2, 2, 2), 0.5e6), 0.0, k)     # 0.5 MBq/mL at administration
    np.testing.assert_allclose(dose, 0.5 * 50.0 / 1.03)
    with pytest.raises(ValueError, match="before the administration"):
        ldm.pet_dose(np.ones(2), -1.0, k)


def test_maa_scaling_puts_the_planned_activity_in_liver_and_lungs() -> None:
    counts = np.zeros((4, 4, 4))
    counts[0, :2, :2] = 10.0       # lung, 4 voxels: 40 counts
    counts[2:, :, :] = 5.0         # liver, 32 voxels: 160 counts
    counts[1, 3, 3] = 100.0        # stomach: outside the normalising region
    region = np.zeros(counts.shape, bool)
    region[0, :2, :2] = True
    region[2:] = True
    a = ldm.maa_activity_concentration(counts, region, voxel_ml=2.0, administered_gbq=2.0)
    total_mbq = float(a[region].sum() * 2.0)
    assert total_mbq == pytest.approx(2000.0)
    # 2000 MBq / 200 counts = 10 MBq per count; 5 counts in 2 mL -> 25 MBq/mL.
    assert a[3, 0, 0] == pytest.approx(25.0)
    assert a[1, 3, 3] == pytest.approx(500.0)
    k = QuantificationConfig().constants()
    dose = ldm.maa_dose(counts, region, 2.0, 2.0, k)
    assert dose[3, 0, 0] == pytest.approx(25.0 * 49.67 / 1.03)
    # Mean liver dose = C x A_liver / M_liver: 1.6 GBq in 64 mL x 1.03 g/mL.
    assert dose[2:].mean() == pytest.approx(49.67 * 1.6 / (64 * 1.03 / 1000.0))
    # Fractions: half of every region voxel counts, so the scale doubles.
    half = ldm.maa_activity_concentration(counts, region * 0.5, 2.0, 2.0)
    assert half[3, 0, 0] == pytest.approx(50.0)
    with pytest.raises(ValueError, match="no SPECT counts"):
        ldm.maa_activity_concentration(np.zeros((2, 2)), np.ones((2, 2), bool), 1.0, 1.0)
