"""Every SIRT test vector of docs/clinical-sources.md §3 (tolerance 0.5 %), through the formulas
and the plan."""

from __future__ import annotations

import pytest

from pipeline.quantify import dosimetry as dm
from pipeline.quantify.body import bsa_dubois, bsa_mosteller
from pipeline.quantify.config import QuantificationConfig
from pipeline.quantify.constants import ConstantsPreset
from pipeline.quantify.inputs import Microspheres, PlannerInputs
from pipeline.quantify.sirt import plan_sirt
from pipeline.quantify.volumetry import LiverVolumes

REL = 0.005
C_EANM, RHO = 49.67, 1.03


def approx(value: float) -> object:
    return pytest.approx(value, rel=REL)


def volumes(seg_total: dict[int, float], seg_tumour: dict[int, float]) -> LiverVolumes:
    return LiverVolumes(liver_ml=sum(seg_total.values()), tumour_ml=sum(seg_tumour.values()),
                        segment_total_ml=dict(seg_total), segment_tumour_ml=dict(seg_tumour))


def test_vector1_single_compartment_lsf_and_residual() -> None:
    m = dm.mass_kg(1000, RHO)
    assert dm.mird_activity_gbq(100, m, C_EANM, 0.0) == approx(2.07)
    a_inj = dm.mird_activity_gbq(100, m, C_EANM, 0.10)
    assert a_inj == approx(2.304)
    assert dm.lung_dose_gy(a_inj, 0.10, 1.0, C_EANM) == approx(11.4)
    assert dm.vial_activity_gbq(a_inj, 0.10) == approx(2.56)
    # The lung dose uses the injected activity, not the vial activity.
    assert dm.lung_dose_gy(a_inj, 0.10, 1.0, C_EANM) == approx(11.4)


def test_vector1_through_plan() -> None:
    """1000 mL territory, 100 Gy, LSF 10 %, R 10 % through plan_sirt (EANM preset)."""
    vol = volumes({s: 125.0 for s in range(1, 9)}, {s: 0.0 for s in range(1, 9)})
    planner = PlannerInputs(lung_shunt_fraction=0.10, territory="whole", target_dose_gy=100,
                            residual_fraction=0.10)
    sirt = plan_sirt(vol, None, planner, QuantificationConfig(), 1.0, "config").to_dict()
    mird = sirt["methods"]["mird"]
    assert mird["injected_activity_gbq"] == approx(2.304)
    assert mird["vial_activity_gbq"] == approx(2.56)
    assert mird["implied_doses"]["lung_gy"] == approx(11.4)
    assert mird["implied_doses"]["target_mean_gy"] == approx(100.0)


def test_vector2_partition_tumour_goal() -> None:
    mt, mn = dm.mass_kg(200, RHO), dm.mass_kg(800, RHO)
    a = dm.partition_activity_for_tumour_dose_gbq(300, 3, mt, mn, C_EANM, 0.10)
    assert a == approx(3.2257)
    assert dm.partition_normal_dose_gy(a, 3, mt, mn, C_EANM, 0.10) == approx(100.0)
    assert dm.lung_dose_gy(a, 0.10, 1.0, C_EANM) == approx(16.0)
    assert dm.partition_activity_for_tumour_dose_gbq(300, 1, mt, mn, C_EANM, 0.10) == approx(6.91)


def test_vector2_through_plan() -> None:
    vol = volumes({5: 500.0, 6: 500.0, 1: 100.0, 2: 100.0, 3: 100.0, 4: 100.0, 7: 0.0, 8: 0.0},
                  {5: 200.0, 6: 0.0, 1: 0.0, 2: 0.0, 3: 0.0, 4: 0.0, 7: 0.0, 8: 0.0})
    planner = PlannerInputs(lung_shunt_fraction=0.10, tumour_to_normal_ratio=3,
                            territory="segments:5,6", tumour_target_dose_gy=300,
                            normal_liver_dose_limit_gy=1000)
    part = plan_sirt(vol, None, planner, QuantificationConfig(), 1.0, "config").to_dict()
    part = part["methods"]["partition"]
    assert part["activity_for_tumour_target_gbq"] == approx(3.2257)
    assert part["tumour_target_reached"] is True


def test_vector3_partition_normal_cap() -> None:
    a = dm.partition_activity_for_normal_dose_gbq(40, 3, 0.309, 1.236, C_EANM, 0.05)
    assert a == approx(1.834)
    assert 3 * dm.partition_normal_dose_gy(a, 3, 0.309, 1.236, C_EANM, 0.05) == approx(120.0)
    assert dm.lung_dose_gy(a, 0.05, 1.0, C_EANM) == approx(4.55)


def test_vector3_through_plan_resin_unilobar_not_pretreated() -> None:
    """M_T 0.309 kg = 300 mL, M_N 1.236 kg = 1200 mL at 1.03 g/mL; EANM resin limit 40 Gy."""
    vol = volumes({5: 750.0, 6: 750.0, 1: 10, 2: 10, 3: 10, 4: 10, 7: 0.0, 8: 0.0},
                  {5: 300.0, 6: 0.0, 1: 0, 2: 0, 3: 0, 4: 0, 7: 0.0, 8: 0.0})
    cfg = QuantificationConfig(lobes={"right": [5, 6], "left": [2, 3, 4]})
    planner = PlannerInputs(lung_shunt_fraction=0.05, tumour_to_normal_ratio=3,
                            territory="right", microspheres=Microspheres.RESIN, pretreated=False)
    part = plan_sirt(vol, None, planner, cfg, 1.0, "config").to_dict()["methods"]["partition"]
    assert part["normal_liver_dose_limit_gy"] == 40.0
    assert part["injected_activity_gbq"] == approx(1.834)
    assert part["limited_by"] == "normal_liver"
    assert part["implied_doses"]["tumour_gy"] == approx(120.0)
    assert part["implied_doses"]["lung_gy"] == approx(4.55)


def test_vector4_glass() -> None:
    m = dm.mass_kg(1000, RHO)
    a = dm.mird_activity_gbq(120, m, 50.0, 0.05)
    assert a == approx(2.602)
    assert dm.vial_activity_gbq(a, 0.01) == approx(2.628)
    assert dm.lung_dose_gy(a, 0.05, 1.0, 50.0) == approx(6.5)


def test_vector4_through_plan_with_therasphere_preset() -> None:
    vol = volumes({s: 125.0 for s in range(1, 9)}, {s: 0.0 for s in range(1, 9)})
    cfg = QuantificationConfig(constants_preset=ConstantsPreset.THERASPHERE_IFU)
    planner = PlannerInputs(lung_shunt_fraction=0.05, territory="whole", target_dose_gy=120,
                            residual_fraction=0.01, microspheres=Microspheres.GLASS)
    sirt = plan_sirt(vol, None, planner, cfg, 1.0, "config").to_dict()
    assert sirt["device_convention_method"] == "mird"
    mird = sirt["methods"]["mird"]
    assert mird["injected_activity_gbq"] == approx(2.602)
    assert mird["vial_activity_gbq"] == approx(2.628)
    assert mird["implied_doses"]["lung_gy"] == approx(6.5)
    assert sirt["methods"]["bsa"]["applicable"] is False


def test_vector5_bsa_method() -> None:
    bsa = bsa_dubois(1.75, 80)
    assert bsa == pytest.approx(1.9560, abs=5e-5)
    assert bsa_mosteller(1.75, 80) == pytest.approx(1.972, abs=5e-4)
    assert dm.bsa_method_activity_gbq(bsa, 400, 1600, 1600) == approx(2.006)
    right = dm.bsa_method_activity_gbq(bsa, 400, 1600, 1000)
    assert right == approx(1.254)
    assert right * (1 - dm.resin_lsf_reduction(0.12)) == approx(1.003)  # type: ignore[operator]


def test_vector5_through_plan() -> None:
    """Liver 1600 mL incl. 400 mL tumour; right hemiliver 1000 mL; LSF 12 % -> x0.8."""
    vol = volumes({1: 100, 2: 200, 3: 150, 4: 150, 5: 250, 6: 250, 7: 250, 8: 250},
                  {1: 0, 2: 100, 3: 0, 4: 0, 5: 300, 6: 0, 7: 0, 8: 0})
    planner = PlannerInputs(lung_shunt_fraction=0.12, territory="right",
                            microspheres=Microspheres.RESIN)
    sirt = plan_sirt(vol, bsa_dubois(1.75, 80), planner, QuantificationConfig(), 1.0,
                     "config").to_dict()
    bsa = sirt["methods"]["bsa"]
    assert bsa["activity_before_lung_shunt_rule_gbq"] == approx(1.254)
    assert bsa["lung_shunt_reduction"] == 0.2
    assert bsa["injected_activity_gbq"] == approx(1.003)
    whole = plan_sirt(vol, bsa_dubois(1.75, 80), planner.model_copy(
        update={"territory": "whole", "lung_shunt_fraction": 0.05}),
        QuantificationConfig(), 1.0, "config").to_dict()["methods"]["bsa"]
    assert whole["injected_activity_gbq"] == approx(2.006)
    # Implied mean dose D = C A (1 - LSF) / M of the 1600 mL liver.
    expected = C_EANM * whole["injected_activity_gbq"] * 0.95 / dm.mass_kg(1600, RHO)
    assert whole["implied_doses"]["target_mean_gy"] == approx(expected)


def test_vector6_lung_limit_identity() -> None:
    assert dm.lung_activity_limit_gbq(30, 1.0, C_EANM) == approx(0.604)


def test_vector7_local_deposition_and_decay() -> None:
    assert dm.voxel_dose_gy(1.0, C_EANM, RHO) == approx(48.22)
    assert dm.decay_factor(24, 64.1) == approx(1.2963)


@pytest.mark.parametrize(("lsf", "reduction"), [
    (0.0, 0.0), (0.0999, 0.0), (0.10, 0.2), (0.1499, 0.2), (0.15, 0.4), (0.20, 0.4),
    (0.2001, None)])
def test_resin_lung_shunt_rule_bands(lsf: float, reduction: float | None) -> None:
    assert dm.resin_lsf_reduction(lsf) == reduction


def test_presets_echo_values() -> None:
    assert QuantificationConfig().constants().energy_gy_kg_per_gbq == 49.67
    mird = QuantificationConfig(constants_preset=ConstantsPreset.MIRD_AAPM).constants()
    assert (mird.energy_gy_kg_per_gbq, mird.liver_density_g_ml) == (49.38, 1.03)
    over = QuantificationConfig(liver_density_g_ml=1.05).constants()
    assert over.liver_density_g_ml == 1.05 and over.overridden == ("liver_density_g_ml",)
