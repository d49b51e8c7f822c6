"""The learned FLR model's FLR: same formulas as the segment rule, compared with it."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.quantify.config import QuantificationConfig
from pipeline.quantify.flr import compute_flr
from pipeline.quantify.flr_model import ModelFLR, RegionVolumes, model_flr
from pipeline.quantify.inputs import LiverCondition, PatientInfo, PlannerInputs, QualityContext
from pipeline.quantify.quantify import quantify, replan
from pipeline.quantify.volumetry import LiverVolumes
from pipeline.structures import DEMO_LABELS, Structure

REL = 0.005
TOTAL = {1: 0.0, 2: 250.0, 3: 200.0, 4: 300.0, 5: 300.0, 6: 300.0, 7: 300.0, 8: 300.0}
TUMOUR = {1: 0.0, 2: 50.0, 3: 0.0, 4: 0.0, 5: 100.0, 6: 0.0, 7: 0.0, 8: 0.0}
PATIENT = PatientInfo(height_m=1.80, weight_kg=80.0)  # Mosteller BSA 2.0: TELV 1740.15 mL
PLANNER = PlannerInputs(
    planned_resection="extended_right_hepatectomy", liver_condition=LiverCondition.NORMAL
)


def _plan():
    volumes = LiverVolumes(
        liver_ml=sum(TOTAL.values()),
        tumour_ml=sum(TUMOUR.values()),
        segment_total_ml=dict(TOTAL),
        segment_tumour_ml=dict(TUMOUR),
    )
    return compute_flr(volumes, PATIENT, PLANNER, QuantificationConfig())


def test_region_volumes_are_voxel_counts() -> None:
    remnant = np.zeros((4, 4, 4), bool)
    remnant[:2] = True  # 32 voxels
    tumour = np.zeros_like(remnant)
    tumour[0, 0, :2] = True  # 2 voxels inside
    tumour[3, 3, 3] = True  # 1 outside
    measured = RegionVolumes.of({Structure.FUTURE_LIVER_REMNANT: remnant}, tumour, 0.5)
    assert measured == RegionVolumes(16.0, 1.0, None)
    assert RegionVolumes.of({}, tumour, 0.5) is None


def test_model_flr_uses_the_segment_rule_formulas_and_compares() -> None:
    """Model remnant 460 mL with 20 mL of tumour: FLR 440 mL against the rule's 400 mL."""
    plan = _plan()
    model = model_flr(
        "flr-net",
        RegionVolumes(460.0, 20.0, 1300.0),
        plan,
        PATIENT,
        PLANNER,
        QuantificationConfig(),
    )
    assert model.flr_ml == pytest.approx(440.0)
    assert model.sflr_percent == pytest.approx(440 / 1740.15 * 100, rel=REL)
    assert model.flr_body_weight_percent == pytest.approx(0.55)
    assert model.flr_percent_of_functional_liver == pytest.approx(440 / 1800 * 100)
    planned = model.planned
    assert planned is not None and planned.resection == "extended_right_hepatectomy"
    assert planned.segment_rule_flr_ml == pytest.approx(400.0)
    assert planned.difference_ml == pytest.approx(40.0)
    assert planned.difference_percent == pytest.approx(10.0)
    assert len(model.comparisons) == len(plan.resections)
    assert sum(c.planned for c in model.comparisons) == 1
    assert [f.status for f in model.flags] == ["met", "met"]  # sFLR 25.3 % >= 20; 0.55 % > 0.5
    assert ModelFLR.from_dict(model.to_dict()) == model


def test_withheld_liver_gives_no_model_flr_but_keeps_the_region_volumes() -> None:
    model = model_flr(
        "flr-net",
        RegionVolumes(460.0, 20.0, None),
        _plan(),
        PATIENT,
        PlannerInputs(),
        QuantificationConfig(),
        withheld=True,
    )
    assert model.flr_ml is None and model.sflr_percent is None and model.comparisons == ()
    assert model.measured.remnant_ml == 460.0 and model.planned is None
    assert "liver or tumour volume (withheld)" in model.missing


def test_quantify_reports_flr_model_and_replan_plans_it_again(phantom) -> None:
    """The remnant region = segments 1-3 of the phantom; a re-plan with a new weight keeps
    the region volumes and recomputes FLR/BW."""
    lm = phantom()
    remnant = np.isin(lm, [1, 2, 3])
    spacing = (2.0, 0.8, 0.8)
    voxel_ml = 2.0 * 0.8 * 0.8 / 1000
    result = quantify(
        lm,
        DEMO_LABELS,
        spacing,
        PATIENT,
        PLANNER,
        QualityContext(slice_thickness_mm=2.0),
        QuantificationConfig(),
        regions={Structure.FUTURE_LIVER_REMNANT: remnant},
        region_model="net",
    )
    doc = result.to_dict()
    model = doc["flr"]["model"]
    assert model["remnant_region_ml"] == pytest.approx(remnant.sum() * voxel_ml)
    assert model["flr_ml"] == pytest.approx(remnant.sum() * voxel_ml)  # no tumour
    rule = next(r for r in doc["flr"]["resections"] if r["name"] == "extended_right_hepatectomy")
    planned = next(c for c in model["comparisons"] if c["planned"])
    assert planned["difference_ml"] == pytest.approx(model["flr_ml"] - rule["flr_ml"])
    assert "future_liver_remnant" not in doc["volumes_ml"]
    again = replan(
        doc, PlannerInputs(), QuantificationConfig(), patient=PatientInfo(weight_kg=40.0)
    )
    replanned = again["flr"]["model"]
    assert replanned["remnant_region_ml"] == model["remnant_region_ml"]
    assert replanned["flr_body_weight_percent"] == pytest.approx(
        2 * model["flr_body_weight_percent"]
    )
