"""FLR test vectors of docs/clinical-sources.md §4 and the resection table."""

from __future__ import annotations

import datetime as dt

import pytest

from pipeline.quantify.body import telv_ml
from pipeline.quantify.config import QuantificationConfig
from pipeline.quantify.flr import (
    STANDARD_RESECTIONS,
    FLRPlan,
    ResectionFLR,
    compute_flr,
    flr_body_weight_percent,
    hypertrophy,
    lobe_share_percent,
)
from pipeline.quantify.inputs import LiverCondition, PatientInfo, PlannerInputs
from pipeline.quantify.volumetry import LiverVolumes

REL = 0.005


def _volumes(total: dict[int, float], tumour: dict[int, float]) -> LiverVolumes:
    return LiverVolumes(liver_ml=sum(total.values()), tumour_ml=sum(tumour.values()),
                        segment_total_ml=dict(total), segment_tumour_ml=dict(tumour))


def _row(flr: FLRPlan, name: str) -> ResectionFLR:
    return flr.resection(name)


def test_telv_sflr_and_body_weight_vector() -> None:
    assert telv_ml("vauthey", 2.0) == pytest.approx(1740.15, rel=REL)
    assert 400 / telv_ml("vauthey", 2.0) * 100 == pytest.approx(22.99, rel=REL)
    assert flr_body_weight_percent(400, 80) == pytest.approx(0.50, rel=REL)
    assert telv_ml("urata", 2.0) == pytest.approx(1414.8)
    assert telv_ml("heinemann", 2.0) == pytest.approx(1799.9)


PVE = dt.date(2026, 1, 5)


def test_hypertrophy_vector() -> None:
    """sFLR 18 -> 26 % four weeks after the PVE: DH 8 points, KGR 2.0 %/week."""
    planner = PlannerInputs(prior_sflr_percent=18, pve_date=PVE,
                            planned_resection="extended_right_hepatectomy")
    hyp = hypertrophy(26.0, planner, QuantificationConfig(), study_date=dt.date(2026, 2, 2))
    assert hyp.degree_of_hypertrophy_points == pytest.approx(8.0)
    assert hyp.weeks_since_pve == pytest.approx(4.0)
    assert hyp.kinetic_growth_rate_percent_per_week == pytest.approx(2.0)
    assert [f.status for f in hyp.flags] == ["met", "met"]
    assert hyp.flags[1].rule_id == "SHINDOH2013-KGR"


def test_kgr_counts_weeks_since_the_pve_not_since_the_prior_scan() -> None:
    """Prior scan 1 week before the PVE, current scan 3 weeks after it: 6 points / 3 weeks."""
    planner = PlannerInputs(prior_sflr_percent=20, pve_date=PVE,
                            planned_resection="right_hepatectomy")
    hyp = hypertrophy(26.0, planner, QuantificationConfig(), study_date=dt.date(2026, 1, 26))
    assert hyp.kinetic_growth_rate_percent_per_week == pytest.approx(2.0)
    slow = hypertrophy(25.0, planner, QuantificationConfig(), study_date=dt.date(2026, 1, 26))
    assert slow.flags[1].status == "not_met"
    no_date = hypertrophy(26.0, planner, QuantificationConfig())
    assert no_date.kinetic_growth_rate_percent_per_week is None
    assert "study date" in no_date.missing
    no_pve = hypertrophy(26.0, planner.model_copy(update={"pve_date": None}),
                         QuantificationConfig(), study_date=dt.date(2026, 1, 26))
    assert "pve_date" in no_pve.missing


@pytest.mark.parametrize(("flr_ml", "status"), [(400.0, "not_met"), (400.8, "met")])
def test_flr_body_weight_at_half_percent_is_at_risk(flr_ml: float, status: str) -> None:
    """Truant 2007: FLR/BW <= 0.5 % is at risk; 400 mL at 80 kg is exactly 0.50 %."""
    total = {s: 100.0 for s in range(1, 9)}
    total[2], total[3], total[1] = flr_ml / 2, flr_ml / 2, 0.0
    flr = compute_flr(_volumes(total, {s: 0.0 for s in range(1, 9)}),
                      PatientInfo(weight_kg=80.0), PlannerInputs(), QuantificationConfig())
    flag = next(f for f in _row(flr, "extended_right_hepatectomy").flags
                if f.code == "FLR_BODY_WEIGHT")
    assert flag.status == status and flag.comparison == ">"
    assert flag.rule_id == "TRUANT2007-FLR-BW"


def test_hypertrophy_missing_inputs_are_named() -> None:
    hyp = hypertrophy(26.0, PlannerInputs(prior_sflr_percent=18), QuantificationConfig())
    assert hyp.degree_of_hypertrophy_points is None
    assert "planned_resection" in hyp.missing


def test_gaba_radiation_lobectomy_shares() -> None:
    assert lobe_share_percent(719, 955) == pytest.approx(43.0, abs=0.05)
    assert lobe_share_percent(1004, 460) == pytest.approx(68.6, abs=0.05)


def test_flr_s2_s3_through_compute_flr() -> None:
    """S2+3 parenchyma 400 mL (450 mL with 50 mL tumour); BSA 2.0 via Mosteller (H, W)."""
    total = {1: 0.0, 2: 250.0, 3: 200.0, 4: 300.0, 5: 300.0, 6: 300.0, 7: 300.0, 8: 300.0}
    tumour = {1: 0.0, 2: 50.0, 3: 0.0, 4: 0.0, 5: 100.0, 6: 0.0, 7: 0.0, 8: 0.0}
    # Mosteller BSA 2.0: H[cm] x W = 14400, e.g. 1.80 m and 80 kg.
    patient = PatientInfo(height_m=1.80, weight_kg=80.0)
    flr = compute_flr(_volumes(total, tumour), patient,
                      PlannerInputs(planned_resection="extended_right_hepatectomy",
                                    prior_sflr_percent=18.0, pve_date=PVE,
                                    liver_condition=LiverCondition.NORMAL),
                      QuantificationConfig(), study_date=dt.date(2026, 2, 2))
    assert flr.bsa_m2 == pytest.approx(2.0)
    assert flr.telv_ml == pytest.approx(1740.15, rel=REL)
    row = _row(flr, "extended_right_hepatectomy")
    assert row.remnant_segments == (1, 2, 3)
    assert row.flr_ml == pytest.approx(400.0)
    assert row.remnant_tumour_ml == pytest.approx(50.0)
    assert row.sflr_percent == pytest.approx(22.99, rel=REL)
    assert row.flr_body_weight_percent == pytest.approx(0.50, rel=REL)
    assert [f.code for f in row.flags] == ["SFLR_NORMAL", "FLR_BODY_WEIGHT"]
    # FLR/BW is exactly 0.50 %: at risk (Truant 2007: <= 0.5 %).
    assert [f.status for f in row.flags] == ["met", "not_met"]
    assert flr.functional_liver_ml == pytest.approx(1800.0)
    assert row.flr_percent_of_functional_liver == pytest.approx(400 / 1800 * 100)
    hyp = flr.hypertrophy
    assert hyp.degree_of_hypertrophy_points == pytest.approx(22.99 - 18, rel=0.01)
    assert hyp.kinetic_growth_rate_percent_per_week == pytest.approx((22.99 - 18) / 4,
                                                                        rel=0.01)


def test_resection_table() -> None:
    remnants = {r.name: r.remnant(True) for r in STANDARD_RESECTIONS}
    assert remnants == {
        "right_hepatectomy": (1, 2, 3, 4),
        "extended_right_hepatectomy": (1, 2, 3),
        "left_hepatectomy": (1, 5, 6, 7, 8),
        "extended_left_hepatectomy": (1, 6, 7),
        "left_lateral_sectionectomy": (1, 4, 5, 6, 7, 8),
    }
    assert {r.name: r.remnant(False) for r in STANDARD_RESECTIONS}["right_hepatectomy"] == (
        2, 3, 4)


def test_caudate_exclusion_and_custom_resection() -> None:
    total = {s: 100.0 for s in range(1, 9)}
    tumour = {s: 0.0 for s in range(1, 9)}
    cfg = QuantificationConfig(include_caudate_in_flr=False,
                               custom_resections={"posterior": [6, 7]})
    flr = compute_flr(_volumes(total, tumour), PatientInfo(), PlannerInputs(
        custom_resections={"s8": [8]}), cfg)
    assert _row(flr, "right_hepatectomy").flr_ml == pytest.approx(300.0)
    assert _row(flr, "posterior").remnant_segments == (2, 3, 4, 5, 8)
    assert _row(flr, "s8").flr_ml == pytest.approx(600.0)


def test_missing_height_gives_no_sflr_but_keeps_flr() -> None:
    total = {s: 100.0 for s in range(1, 9)}
    flr = compute_flr(_volumes(total, {s: 0.0 for s in range(1, 9)}),
                      PatientInfo(weight_kg=70.0), PlannerInputs(), QuantificationConfig())
    row = _row(flr, "right_hepatectomy")
    assert row.flr_ml == pytest.approx(400.0)
    assert row.sflr_percent is None and flr.telv_ml is None
    assert "BSA (height and weight)" in row.missing
    assert row.flr_body_weight_percent == pytest.approx(400 / 70000 * 100)
    statuses = {f.code: f.status for f in row.flags}
    assert statuses["SFLR_NORMAL"] == "not_evaluable"
    assert set(statuses) == {"SFLR_NORMAL", "SFLR_CHEMOTHERAPY", "SFLR_CIRRHOSIS",
                             "FLR_BODY_WEIGHT"}


def test_withheld_segment_withholds_only_remnants_containing_it() -> None:
    total: dict[int, float | None] = {s: 100.0 for s in range(1, 9)}
    total[6] = None
    vols = LiverVolumes(liver_ml=None, tumour_ml=0.0, segment_total_ml=total,
                        segment_tumour_ml={s: 0.0 for s in range(1, 9)})
    flr = compute_flr(vols, PatientInfo(), PlannerInputs(), QuantificationConfig())
    assert _row(flr, "right_hepatectomy").flr_ml == pytest.approx(400.0)
    assert _row(flr, "left_hepatectomy").flr_ml is None
    assert _row(flr, "right_hepatectomy").flr_percent_of_functional_liver is None
