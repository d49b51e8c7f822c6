"""EANM 2022 Table 3 limits as docs/clinical-sources.md §3 states them, unknown inputs included.

Doses are hand-calculated here from C 49.67 Gy·kg/GBq and 1.03 g/mL, not from the code.
"""

from __future__ import annotations

import pytest

from pipeline.quantify.config import QuantificationConfig
from pipeline.quantify.inputs import Disease, Microspheres, PlannerInputs
from pipeline.quantify.sirt import plan_sirt
from pipeline.quantify.volumetry import LiverVolumes

C, RHO = 49.67, 1.03
NO_TUMOUR = LiverVolumes(1600.0, 0.0, {s: 200.0 for s in range(1, 9)},
                         {s: 0.0 for s in range(1, 9)})
# 100 mL tumour in S5: right lobe (S5-8) 800 mL with 700 mL normal; whole normal 1500 mL.
TUMOUR_S5 = LiverVolumes(1600.0, 100.0, {s: 200.0 for s in range(1, 9)},
                         {s: (100.0 if s == 5 else 0.0) for s in range(1, 9)})


def _flags(method: dict) -> dict[str, dict]:
    return {f["code"]: f for f in method["flags"]}


def _mird(vols: LiverVolumes, **inputs: object) -> dict:
    planner = PlannerInputs(lung_shunt_fraction=0.05, **inputs)  # type: ignore[arg-type]
    return plan_sirt(vols, None, planner, QuantificationConfig(), 1.0, "config").to_dict()


@pytest.mark.parametrize(("territory", "pretreated", "dose", "status", "rule_id"), [
    # Unilobar: 40 Gy whether pretreated or not (pretreatment changes the bilobar limit only).
    ("right", None, 35.0, "met", "EANM2022-RESIN-NL-UNILOBAR"),
    ("right", True, 35.0, "met", "EANM2022-RESIN-NL-UNILOBAR"),
    ("right", False, 41.0, "not_met", "EANM2022-RESIN-NL-UNILOBAR"),
    ("segments:2,3", None, 35.0, "met", "EANM2022-RESIN-NL-UNILOBAR"),
    # Bilobar: 40 Gy, 30 Gy only for a pretreated or compromised liver.
    ("whole", False, 35.0, "met", "EANM2022-RESIN-NL-BILOBAR"),
    ("whole", True, 35.0, "not_met", "EANM2022-RESIN-NL-BILOBAR-PRE"),
    ("segments:4,5", True, 29.0, "met", "EANM2022-RESIN-NL-BILOBAR-PRE"),
])
def test_resin_normal_liver_limit(territory: str, pretreated: bool | None, dose: float,
                                  status: str, rule_id: str) -> None:
    sirt = _mird(NO_TUMOUR, microspheres=Microspheres.RESIN, territory=territory,
                 target_dose_gy=dose, pretreated=pretreated)
    flag = _flags(sirt["methods"]["mird"])["NORMAL_LIVER_DOSE"]
    assert flag["value"] == pytest.approx(dose)
    assert (flag["status"], flag["rule_id"], flag["comparison"]) == (status, rule_id, "<=")
    assert flag["candidates"] == [] and flag["unknown_inputs"] == []
    assert flag["limit"] == (30.0 if rule_id.endswith("PRE") else 40.0)


@pytest.mark.parametrize(("dose", "status"), [(35.0, "depends_on_unknown_input"),
                                              (25.0, "met"), (45.0, "not_met")])
def test_resin_bilobar_unknown_pretreatment_shows_both_limits(dose: float, status: str) -> None:
    sirt = _mird(NO_TUMOUR, microspheres=Microspheres.RESIN, territory="whole",
                 target_dose_gy=dose)
    flag = _flags(sirt["methods"]["mird"])["NORMAL_LIVER_DOSE"]
    assert flag["limit"] is None and flag["status"] == status
    assert flag["unknown_inputs"] == ["pretreated"]
    assert [(c["limit"], c["rule_id"]) for c in flag["candidates"]] == [
        (40.0, "EANM2022-RESIN-NL-BILOBAR"), (30.0, "EANM2022-RESIN-NL-BILOBAR-PRE")]
    assert "pretreated unknown" in flag["note"] and "30 Gy if" in flag["note"]


def test_resin_bilobar_partition_needs_pretreatment_not_the_stricter_limit() -> None:
    sirt = plan_sirt(TUMOUR_S5, None, PlannerInputs(
        lung_shunt_fraction=0.05, tumour_to_normal_ratio=3, territory="whole",
        microspheres=Microspheres.RESIN), QuantificationConfig(), 1.0, "config").to_dict()
    part = sirt["methods"]["partition"]
    assert part["injected_activity_gbq"] is None
    assert any(m.startswith("pretreated or normal_liver_dose_limit_gy") for m in part["missing"])
    # Unilobar with pretreatment unknown: 40 Gy, computed.
    right = plan_sirt(TUMOUR_S5, None, PlannerInputs(
        lung_shunt_fraction=0.05, tumour_to_normal_ratio=3, territory="right",
        microspheres=Microspheres.RESIN), QuantificationConfig(), 1.0, "config").to_dict()
    part = right["methods"]["partition"]
    m_t, m_n = 100 * RHO / 1000, 700 * RHO / 1000
    assert part["injected_activity_gbq"] == pytest.approx(40 * (3 * m_t + m_n) / (C * 0.95))
    assert part["normal_liver_limit_basis"].startswith("EANM2022-RESIN-NL-UNILOBAR")


def _glass_right(dose: float, **inputs: object) -> dict:
    return _mird(TUMOUR_S5, microspheres=Microspheres.GLASS, territory="right",
                 target_dose_gy=dose, tumour_to_normal_ratio=2, **inputs)["methods"]["mird"]


def test_glass_lobar_plan_gets_the_whole_normal_liver_check() -> None:
    """Right lobe 800 mL (100 tumour), T/N 2, 120 Gy mean: D_N = 120 x 0.824 / 0.927,
    whole normal liver = D_N x 700 / 1500."""
    mird = _glass_right(120.0, bilirubin_mg_dl=0.8, disease=Disease.HCC)
    d_n = 120 * 0.824 / (2 * 0.103 + 0.721)
    doses = mird["implied_doses"]
    assert doses["normal_liver_gy"] == pytest.approx(d_n)
    assert doses["tumour_gy"] == pytest.approx(2 * d_n)
    assert doses["whole_normal_liver_gy"] == pytest.approx(d_n * 700 / 1500)
    flags = _flags(mird)
    wnl = flags["WHOLE_NORMAL_LIVER_DOSE"]
    assert (wnl["limit"], wnl["rule_id"], wnl["status"]) == (75.0, "EANM2022-GLASS-WNL", "met")
    assert "unilobar" in wnl["note"]
    assert "NORMAL_LIVER_DOSE" not in flags
    high = _flags(_glass_right(120.0, bilirubin_mg_dl=1.5))["WHOLE_NORMAL_LIVER_DOSE"]
    assert (high["limit"], high["rule_id"]) == (50.0, "EANM2022-GLASS-WNL-BILIRUBIN")
    unknown = _flags(_glass_right(140.0))["WHOLE_NORMAL_LIVER_DOSE"]
    # 140 Gy mean: whole normal liver 58.1 Gy, under 75 but over 50.
    assert unknown["value"] == pytest.approx(140 * 0.824 / 0.927 * 700 / 1500)
    assert unknown["status"] == "depends_on_unknown_input"
    assert unknown["unknown_inputs"] == ["bilirubin_mg_dl"]
    assert [c["limit"] for c in unknown["candidates"]] == [75.0, 50.0]


@pytest.mark.parametrize(("disease", "limit", "rule_id", "status"), [
    (Disease.HCC, 205.0, "EANM2022-GLASS-TUMOUR-HCC", "not_met"),
    (Disease.MCRC, 189.0, "EANM2022-GLASS-TUMOUR-MCRC", "met"),
    (None, None, "EANM2022-GLASS-TUMOUR-HCC|EANM2022-GLASS-TUMOUR-MCRC",
     "depends_on_unknown_input"),
])
def test_glass_tumour_threshold_is_disease_specific(disease: Disease | None, limit: float | None,
                                                    rule_id: str, status: str) -> None:
    """110 Gy mean to the right lobe, T/N 2: tumour 2 x 110 x 0.824 / 0.927 = 195.6 Gy."""
    flag = _flags(_glass_right(110.0, disease=disease))["TUMOUR_DOSE"]
    assert flag["value"] == pytest.approx(2 * 110 * 0.824 / 0.927)
    assert (flag["limit"], flag["rule_id"], flag["status"]) == (limit, rule_id, status)


@pytest.mark.parametrize(("device", "limit", "rule_id"), [
    (Microspheres.RESIN, 150.0, "EANM2022-RESIN-SEGMENTECTOMY"),
    (Microspheres.GLASS, 400.0, "EANM2022-GLASS-SEGMENTECTOMY"),
])
def test_segmentectomy_thresholds(device: Microspheres, limit: float, rule_id: str) -> None:
    sirt = _mird(NO_TUMOUR, microspheres=device, territory="segments:6", target_dose_gy=200)
    flag = _flags(sirt["methods"]["mird"])["SEGMENTECTOMY_DOSE"]
    assert (flag["limit"], flag["rule_id"], flag["comparison"]) == (limit, rule_id, ">")
    assert flag["status"] == ("met" if limit < 200 else "not_met")
    lobar = _mird(NO_TUMOUR, microspheres=device, territory="right", target_dose_gy=200)
    assert "SEGMENTECTOMY_DOSE" not in _flags(lobar["methods"]["mird"])


def test_resin_tumour_threshold_applies_to_mcrc_only() -> None:
    def tumour(disease: Disease | None) -> dict | None:
        sirt = _mird(TUMOUR_S5, microspheres=Microspheres.RESIN, territory="right",
                     target_dose_gy=60, tumour_to_normal_ratio=3, disease=disease)
        return _flags(sirt["methods"]["mird"]).get("TUMOUR_DOSE")
    mcrc = tumour(Disease.MCRC)
    assert mcrc is not None
    assert (mcrc["limit"], mcrc["rule_id"], mcrc["comparison"]) == (
        100.0, "EANM2022-RESIN-TUMOUR-MCRC", ">")
    unknown = tumour(None)
    assert unknown is not None and "mCRC only" in unknown["note"]
    assert tumour(Disease.HCC) is None


def test_every_flag_cites_a_rule() -> None:
    sirt = _mird(TUMOUR_S5, microspheres=Microspheres.GLASS, territory="segments:5",
                 target_dose_gy=300, tumour_to_normal_ratio=2, prior_lung_dose_gy=5)
    flags = sirt["methods"]["mird"]["flags"]
    assert {f["code"] for f in flags} == {"WHOLE_NORMAL_LIVER_DOSE", "TUMOUR_DOSE",
                                          "SEGMENTECTOMY_DOSE", "LUNG_DOSE_SESSION",
                                          "LUNG_DOSE_CUMULATIVE"}
    assert all(f["rule_id"].startswith("EANM2022-") and f["source"].startswith("EANM 2022")
               for f in flags)


def test_glass_partition_caps_the_whole_normal_liver_dose() -> None:
    """Right lobe of TUMOUR_S5, T/N 2, LSF 5 %, bilirubin 0.8: the 75 Gy whole-normal-liver
    limit is reached at a territory normal-liver dose of 75 x 1500 / 700 = 160.7 Gy,
    A = 160.7 x (2 x 0.103 + 0.721) / (49.67 x 0.95) = 3.157 GBq."""
    sirt = plan_sirt(TUMOUR_S5, None, PlannerInputs(
        lung_shunt_fraction=0.05, tumour_to_normal_ratio=2, territory="right",
        microspheres=Microspheres.GLASS, bilirubin_mg_dl=0.8), QuantificationConfig(), 1.0,
        "config").to_dict()
    part = sirt["methods"]["partition"]
    assert part["injected_activity_gbq"] == pytest.approx(
        75 * 1500 / 700 * (2 * 0.103 + 0.721) / (C * 0.95))
    assert part["injected_activity_gbq"] == pytest.approx(3.157, rel=0.001)
    assert part["implied_doses"]["whole_normal_liver_gy"] == pytest.approx(75.0)
    assert part["limited_by"] == "normal_liver"
    assert part["normal_liver_limit_basis"].startswith("EANM2022-GLASS-WNL:")
    # The prescription reaches the limit exactly and is within it.
    flag = next(f for f in part["flags"] if f["code"] == "WHOLE_NORMAL_LIVER_DOSE")
    assert (flag["comparison"], flag["status"]) == ("<=", "met")
