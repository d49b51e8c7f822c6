"""Whole dosimetry of a synthetic MAA SPECT/CT and Y-90 PET with a known truth.

The truth is set on the planning CT grid of the phantom: normal liver 1 unit/mL, tumour
3 units/mL (T/N 3), lungs holding 10 % of liver + lungs (LSF 0.10). The emission images
are that distribution resampled onto a 4 mm grid moved by the known rigid transform.
Found when written: LSF 0.0915 (lungs found on the 4 mm emission CT, top cut by the shift),
T/N 2.85, normal liver 48.8 Gy for 47.4 Gy, tumour 140.9 Gy for 142.1 Gy.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import SimpleITK as sitk  # noqa: N813
from dosimetry_cases import RegistrationCase

from pipeline.dosimetry import masks
from pipeline.dosimetry.compute import EmissionImages, maa_dosimetry, pet_dosimetry
from pipeline.dosimetry.lungs import lungs_from_ct
from pipeline.quantify.config import QuantificationConfig
from pipeline.structures import DEMO_LABELS

C, RHO = 49.67, 1.03
GBQ = 2.0
LSF, TN = 0.10, 3.0


def _truth(case: RegistrationCase) -> tuple[dict[str, np.ndarray], np.ndarray, float]:
    """Planning regions (no lung), concentration on the planning grid, D_N in Gy."""
    regions = masks.planning_regions(case.labelmap, DEMO_LABELS)
    lung = lungs_from_ct(case.planning)
    conc = np.zeros(case.labelmap.shape)
    conc[regions["normal_liver"]] = 1.0
    conc[regions["tumour"]] = TN
    liver_units = conc.sum()
    conc[lung] = LSF / (1 - LSF) * liver_units / lung.sum()
    ml = 27.0 / 1000.0
    normal_ml, tumour_ml = regions["normal_liver"].sum() * ml, regions["tumour"].sum() * ml
    # Partition model: D_N = C A (1 - LSF) / (T/N M_T + M_N).
    d_n = C * GBQ * (1 - LSF) / (RHO * (TN * tumour_ml + normal_ml) / 1000.0)
    return regions, conc, d_n


def _on_emission_grid(case: RegistrationCase, conc: np.ndarray) -> sitk.Image:
    image = sitk.GetImageFromArray(conc)
    image.CopyInformation(case.planning)
    return sitk.Resample(image, case.moving, case.known.GetInverse(), sitk.sitkLinear, 0.0,
                         sitk.sitkFloat64)


def test_maa_spect_gives_the_truth(registration_case: RegistrationCase) -> None:
    case = registration_case
    regions, conc, d_n = _truth(case)
    spect = _on_emission_grid(case, conc * 250.0)           # counts, any scale
    k = QuantificationConfig().constants()
    out = maa_dosimetry(EmissionImages(spect, case.moving), case.planning, regions, GBQ, k,
                        territory_fraction_of_max=None)
    r = out.result
    assert r.lsf_method == "SPECT counts" and r.lsf == pytest.approx(LSF, abs=0.01)
    assert r.tn_ratio == pytest.approx(TN, rel=0.1)         # partial volume at 4 mm
    assert r.region("normal_liver").mean_gy == pytest.approx(d_n, rel=0.05)
    assert r.region("tumour").mean_gy == pytest.approx(TN * d_n, rel=0.05)
    assert "lung" in out.regions and r.region("lung").volume_ml > 500
    assert r.registration is not None and r.registration.ncc > 0.6
    assert out.dose.GetSize() == spect.GetSize()
    assert out.dose.GetOrigin() == spect.GetOrigin()
    doc = r.to_json()
    assert {"lsf", "tn_ratio", "source", "regions"} <= set(doc)
    assert {"name", "mean_gy", "d70_gy", "v100_percent"} <= set(doc["regions"][0])


def test_y90_pet_on_the_planning_frame_is_exact(registration_case: RegistrationCase) -> None:
    case = registration_case
    regions, conc, _ = _truth(case)
    hours = 30.0
    at_admin_bq_ml = conc * 1.0e6                            # 1 MBq/mL in normal liver
    pet = sitk.GetImageFromArray(at_admin_bq_ml * math.exp(-math.log(2) * hours / 64.1))
    pet.CopyInformation(case.planning)
    k = QuantificationConfig().constants()
    out = pet_dosimetry(EmissionImages(pet, None), case.planning, regions, hours, k)
    r = out.result
    assert r.lsf is None and r.registration is None
    assert r.region("normal_liver").mean_gy == pytest.approx(C / RHO, rel=1e-9)
    assert r.region("tumour").d95_gy == pytest.approx(TN * C / RHO, rel=1e-9)
    assert r.region("tumour").v120_percent == 100.0 and r.region("normal_liver").v70_percent == 0
    assert r.tn_ratio == pytest.approx(TN, rel=1e-9)
