"""Lung shunt (planar, SPECT), T/N, perfused territory, and the plan fed by them."""

from __future__ import annotations

import math

import numpy as np
import pytest

from pipeline.dosimetry import maa
from pipeline.quantify.config import QuantificationConfig
from pipeline.quantify.inputs import PlannerInputs
from pipeline.quantify.volumetry import LiverVolumes


def test_planar_geometric_mean_with_the_posterior_flipped() -> None:
    anterior = np.zeros((4, 6))
    posterior = np.zeros((4, 6))
    lung = np.zeros((4, 6), bool)
    liver = np.zeros((4, 6), bool)
    lung[0, 4:] = True       # patient's left lung, anterior columns 4-5
    liver[2:, :3] = True     # liver on the patient's right, anterior columns 0-2
    anterior[lung] = 10.0    # 20 counts
    anterior[liver] = 30.0   # 180 counts
    # Posterior as displayed: the patient's left is on the image's left (columns 0-1).
    posterior[0, :2] = 40.0          # 80 counts in the lung
    posterior[2:, 3:] = 5.0          # 30 counts in the liver
    posterior[3, 0] = 1000.0         # outside both regions once flipped
    shunt = maa.lung_shunt_planar(anterior, posterior, lung, liver)
    assert shunt.method is maa.ShuntMethod.PLANAR
    assert shunt.lung_counts == pytest.approx(math.sqrt(20 * 80))     # 40
    assert shunt.liver_counts == pytest.approx(math.sqrt(180 * 30))   # 73.48
    assert shunt.lsf == pytest.approx(40 / (40 + math.sqrt(5400)))    # 0.35247
    with pytest.raises(ValueError, match="differ"):
        maa.lung_shunt_planar(anterior, posterior[:, :5], lung, liver)


def test_spect_lsf_with_masks_and_fractions() -> None:
    counts = np.full((2, 3, 3), 2.0)
    lung = np.zeros(counts.shape, bool)
    lung[0, 0] = True                                  # 3 voxels, 6 counts
    liver = np.zeros(counts.shape)
    liver[1] = 1.0                                     # 9 voxels, 18 counts
    liver[0, 2] = 0.5                                  # half of 3 voxels: 3 counts
    shunt = maa.lung_shunt_spect(counts, lung, liver)
    assert shunt.lsf == pytest.approx(6 / (6 + 21))
    assert shunt.method is maa.ShuntMethod.SPECT
    with pytest.raises(maa.MAAMeasurementError, match="no lung shunt"):
        maa.lung_shunt_spect(np.zeros((2, 2)), np.ones((2, 2), bool), np.ones((2, 2), bool))


def test_tumour_to_normal_and_territory() -> None:
    counts = np.zeros((1, 4, 4))
    counts[0, 0, :2] = 12.0            # tumour, 2 voxels
    counts[0, 1:3, :] = 4.0            # perfused normal liver, 8 voxels
    counts[0, 3, :] = 0.2              # unperfused normal liver, 4 voxels
    liver = np.zeros(counts.shape, bool)
    liver[0, :, :] = True
    liver[0, 0, 2:] = False            # not liver
    tumour = np.zeros(counts.shape, bool)
    tumour[0, 0, :2] = True
    normal = liver & ~tumour
    tn = maa.tumour_to_normal(counts, tumour, normal, voxel_ml=0.5)
    # Normal: (8 x 4 + 4 x 0.2) / (12 x 0.5 mL) = 32.8 / 6 = 5.4667 counts/mL; tumour 24/mL.
    assert tn.normal_counts_per_ml == pytest.approx(32.8 / 6)
    assert tn.tumour_counts_per_ml == pytest.approx(24.0)
    assert tn.ratio == pytest.approx(24.0 / (32.8 / 6))
    assert (tn.tumour_ml, tn.normal_ml, tn.in_territory) == (1.0, 6.0, False)
    territory = maa.perfused_territory(counts, liver, fraction_of_max=0.1)   # > 1.2 counts
    np.testing.assert_array_equal(territory, liver & (counts > 1.2))
    inside = maa.tumour_to_normal(counts, tumour, normal, 0.5, territory=territory)
    assert inside.ratio == pytest.approx(3.0)              # 24 / 8 counts per mL
    assert inside.in_territory and inside.normal_ml == 4.0
    by_percentile = maa.perfused_territory(counts, liver, percentile=30.0)
    assert by_percentile.sum() == 10                       # the 4 voxels of 0.2 are out
    with pytest.raises(maa.MAAMeasurementError, match="in the perfused territory"):
        maa.tumour_to_normal(counts, tumour, normal, 0.5, territory=np.zeros_like(liver))
    with pytest.raises(ValueError, match="fraction_of_max"):
        maa.perfused_territory(counts, liver, fraction_of_max=None)


def test_the_plan_takes_the_measured_lsf_and_tn() -> None:
    """CLINICAL.md vector 2 through the partition model, fed by image measurements:
    T/N 3 and LSF 10 % -> 3.2257 GBq for 300 Gy to 200 mL of tumour in 1000 mL."""
    shunt = maa.LungShunt(lsf=0.10, lung_counts=10.0, liver_counts=90.0,
                          method=maa.ShuntMethod.SPECT)
    tn = maa.TumourToNormal(3.0, 3.0, 1.0, 200.0, 800.0, False)
    seg_total = {5: 500.0, 6: 500.0, 1: 100.0, 2: 100.0, 3: 100.0, 4: 100.0, 7: 0.0, 8: 0.0}
    seg_tumour = {5: 200.0, 6: 0.0, 1: 0.0, 2: 0.0, 3: 0.0, 4: 0.0, 7: 0.0, 8: 0.0}
    volumes = LiverVolumes(1400.0, 200.0, seg_total, seg_tumour)
    base = PlannerInputs(lung_shunt_fraction=0.3, territory="segments:5,6",
                         tumour_target_dose_gy=300, normal_liver_dose_limit_gy=1000)
    plan = maa.plan_from_images(volumes, None, base, QuantificationConfig(), 1.0, "config",
                                shunt, tn).to_dict()
    assert plan["lung_shunt_fraction"] == 0.10
    partition = plan["methods"]["partition"]
    assert partition["tumour_to_normal_ratio"] == 3.0
    assert partition["activity_for_tumour_target_gbq"] == pytest.approx(3.2257, rel=5e-3)
    kept = maa.planner_inputs(base, None, None)
    assert kept.lung_shunt_fraction == 0.3 and kept.tumour_to_normal_ratio is None
