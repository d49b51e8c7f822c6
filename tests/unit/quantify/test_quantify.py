"""quantify() on label-map phantoms: volumes, lesions, gates, edge cases."""

from __future__ import annotations

import json
from typing import Literal

import numpy as np
import pytest

from pipeline.quantify.config import QualityGates, QuantificationConfig
from pipeline.quantify.inputs import Microspheres, PatientInfo, PlannerInputs, QualityContext
from pipeline.quantify.quantify import MEASURED_SOURCE, QuantResult, quantify, replan
from pipeline.structures import DEMO_LABELS, Structure

from .conftest import PhantomFactory

SPACING = (2.0, 0.8, 0.8)
VOXEL_ML = 2.0 * 0.8 * 0.8 / 1000
SEG_ML = 5 * 9 * 40 * VOXEL_ML
PATIENT = PatientInfo(height_m=1.75, weight_kg=80.0)


def run(lm: np.ndarray, planner: PlannerInputs | None = None,
        quality: QualityContext | None = None, config: QuantificationConfig | None = None,
        patient: PatientInfo = PATIENT, labels: dict | None = None,
        hu: np.ndarray | None = None) -> dict:
    result = quantify(lm, labels or DEMO_LABELS, SPACING, patient, planner or PlannerInputs(),
                      quality or QualityContext(slice_thickness_mm=2.0),
                      config or QuantificationConfig(), hu=hu)
    doc = result.to_dict()
    json.dumps(doc, allow_nan=False)  # the document is strict JSON
    return doc


def codes(doc: dict) -> set[str]:
    return {w["code"] for w in doc["warnings"]}


def flr_row(doc: dict, name: str) -> dict:
    return next(r for r in doc["flr"]["resections"] if r["name"] == name)


def test_zero_tumour(phantom: PhantomFactory) -> None:
    doc = run(phantom())
    vols = doc["volumes_ml"]
    assert vols["liver"] == pytest.approx(8 * SEG_ML)
    assert vols["liver_without_tumour"] == pytest.approx(8 * SEG_ML)
    assert vols["couinaud_3"] == pytest.approx(SEG_ML)
    assert vols["right_hemiliver"] == pytest.approx(4 * SEG_ML)
    assert vols["left_hemiliver"] == pytest.approx(3 * SEG_ML)
    assert vols["lobe_right"] == pytest.approx(4 * SEG_ML)
    assert vols["portal_vein"] == 0.0
    assert doc["lesions"] == []
    tb = doc["tumour_burden"]
    assert tb["lesion_count"] == 0 and tb["total_tumour_volume_ml"] == 0.0
    assert tb["tumour_fraction_percent"] == 0.0
    assert flr_row(doc, "right_hepatectomy")["flr_ml"] == pytest.approx(4 * SEG_ML)
    assert codes(doc) == {"VESSELS_NOT_PARENCHYMA"}


def test_lesion_located_measured_and_subtracted(phantom: PhantomFactory) -> None:
    lm = phantom()
    lm[7:10, 13:18, 10:24] = 9  # inside segment 6 (z 6-10, y 11-19)
    doc = run(lm)
    (lesion,) = doc["lesions"]
    vol = 3 * 5 * 14 * VOXEL_ML
    assert lesion["volume_ml"] == pytest.approx(vol)
    assert lesion["segment"] == 6 and lesion["hepatic"] is True
    assert lesion["long_axis_mm"] == pytest.approx(np.hypot(14 * 0.8, 4 * 0.8))
    assert lesion["measurable"] is True and lesion["recist_target_candidate"] is True
    vols = doc["volumes_ml"]
    assert vols["liver"] == pytest.approx(8 * SEG_ML)
    assert vols["couinaud_6"] == pytest.approx(SEG_ML - vol)
    assert vols["metastasis"] == pytest.approx(vol)
    assert vols["liver_without_tumour"] == pytest.approx(8 * SEG_ML - vol)
    seg6 = doc["tumour_burden"]["segments"]["couinaud_6"]
    assert seg6["volume_ml"] == pytest.approx(SEG_ML) and seg6["tumour_ml"] == pytest.approx(vol)
    assert doc["tumour_burden"]["lobes"]["right"]["tumour_fraction_percent"] == pytest.approx(
        100 * vol / (4 * SEG_ML))
    assert flr_row(doc, "left_hepatectomy")["flr_ml"] == pytest.approx(5 * SEG_ML - vol)
    assert flr_row(doc, "right_hepatectomy")["flr_ml"] == pytest.approx(4 * SEG_ML)


def test_lesion_across_segments_takes_majority(phantom: PhantomFactory) -> None:
    lm = phantom()
    lm[2:4, 8:13, 10:20] = 9  # y 8-10 in segment 1 (y 2-10), y 11-12 in segment 2
    (lesion,) = run(lm)["lesions"]
    assert lesion["segment"] == 1
    shares = lesion["segment_volumes_ml"]
    assert set(shares) == {"1", "2"} and shares["1"] > shares["2"]
    assert sum(shares.values()) == pytest.approx(lesion["volume_ml"])


def test_tumour_outside_liver(phantom: PhantomFactory) -> None:
    lm = phantom((12, 40, 60))
    lm[4:7, 10:15, 50:56] = 9  # 8 voxels (6.4 mm) beyond the liver's x edge
    doc = run(lm)
    (lesion,) = doc["lesions"]
    assert lesion["hepatic"] is False and lesion["segment"] is None
    assert doc["volumes_ml"]["liver"] == pytest.approx(8 * SEG_ML)
    assert doc["tumour_burden"]["total_tumour_volume_ml"] == 0.0
    assert doc["tumour_burden"]["extrahepatic_lesion_count"] == 1
    assert "LESION_OUTSIDE_LIVER" in codes(doc)


@pytest.mark.parametrize(("connectivity", "count"), [(26, 1), (18, 2), (6, 2)])
def test_connectivity(phantom: PhantomFactory, connectivity: Literal[6, 18, 26],
                      count: int) -> None:
    lm = phantom()
    lm[3, 5, 10] = 9
    lm[4, 6, 11] = 9  # corner neighbour only
    cfg = QuantificationConfig(lesion_connectivity=connectivity, min_lesion_volume_mm3=0.0)
    assert len(run(lm, config=cfg)["lesions"]) == count


def test_min_lesion_size_fragment_counts_as_liver(phantom: PhantomFactory) -> None:
    lm = phantom()
    lm[3, 5, 10:12] = 9  # 2 voxels = 2.56 mm3 < 10 mm3
    doc = run(lm)
    assert doc["lesions"] == []
    assert doc["tumour_burden"]["total_tumour_volume_ml"] == 0.0
    assert doc["tumour_burden"]["subthreshold_tumour_ml"] == pytest.approx(2 * VOXEL_ML)
    assert doc["volumes_ml"]["liver"] == pytest.approx(8 * SEG_ML)
    assert doc["tumour_burden"]["segments"]["couinaud_1"]["volume_ml"] == pytest.approx(SEG_ML)
    assert "SUBTHRESHOLD_TUMOUR" in codes(doc)


def test_incomplete_segment_withholds_dependent_figures(phantom: PhantomFactory) -> None:
    doc = run(phantom(), quality=QualityContext(slice_thickness_mm=2.0,
                                                incomplete_coverage=["couinaud_7"]))
    vols = doc["volumes_ml"]
    assert vols["couinaud_7"] is None and vols["liver"] is None
    assert vols["right_hemiliver"] is None
    assert vols["left_hemiliver"] == pytest.approx(3 * SEG_ML)
    assert flr_row(doc, "right_hepatectomy")["flr_ml"] == pytest.approx(4 * SEG_ML)
    assert flr_row(doc, "left_hepatectomy")["flr_ml"] is None
    (warning,) = [w for w in doc["warnings"] if w["code"] == "INCOMPLETE_COVERAGE"]
    assert warning["action"] == "withheld" and "segment:7" in warning["affects"]


def test_incomplete_coverage_detected_at_image_edge_and_warn_rule(
        phantom: PhantomFactory) -> None:
    lm = phantom()
    lm[0, 2:11, 2:42] = 1  # segment 1 reaches the first slice
    doc = run(lm)
    assert doc["volumes_ml"]["couinaud_1"] is None and doc["volumes_ml"]["liver"] is None
    cfg = QuantificationConfig(quality=QualityGates(incomplete_coverage_action="warn"))
    warned = run(lm, config=cfg)
    assert warned["volumes_ml"]["couinaud_1"] == pytest.approx(SEG_ML + 9 * 40 * VOXEL_ML)
    assert [w["action"] for w in warned["warnings"]
            if w["code"] == "INCOMPLETE_COVERAGE"] == ["warning"]


def test_lesion_touching_edge_withholds_tumour_burden(phantom: PhantomFactory) -> None:
    lm = phantom((12, 40, 44))
    lm[3:6, 20:25, 0:8] = 9
    doc = run(lm)
    assert doc["tumour_burden"]["total_tumour_volume_ml"] is None
    assert doc["lesions"][0]["touches_field_of_view"] is True
    assert doc["lesions"][0]["volume_ml"] is None


def test_low_confidence_warn_and_withhold(phantom: PhantomFactory) -> None:
    quality = QualityContext(slice_thickness_mm=2.0, review_recommended=True,
                             review_reasons=["fold Dice 0.6"])
    warned = run(phantom(), quality=quality)
    assert "LOW_CONFIDENCE" in codes(warned) and warned["volumes_ml"]["liver"] is not None
    cfg = QuantificationConfig(quality=QualityGates(low_confidence_action="withhold"))
    withheld = run(phantom(), quality=quality, config=cfg)
    assert all(v is None for v in withheld["volumes_ml"].values())
    assert all(r["flr_ml"] is None for r in withheld["flr"]["resections"])


def test_thick_slices_raise_measurability_threshold(phantom: PhantomFactory) -> None:
    lm = phantom()
    lm[7:10, 13:18, 10:24] = 9  # long axis 11.6 mm
    doc = run(lm, quality=QualityContext(slice_thickness_mm=7.0))
    assert "THICK_SLICES" in codes(doc)
    assert doc["tumour_burden"]["measurable_threshold_mm"] == 14.0
    assert doc["lesions"][0]["measurable"] is False


def test_missing_and_implausible_height(phantom: PhantomFactory) -> None:
    planner = PlannerInputs(lung_shunt_fraction=0.05, territory="whole",
                            microspheres=Microspheres.RESIN)
    doc = run(phantom(), planner=planner, patient=PatientInfo(weight_kg=80.0))
    assert "PATIENT_HEIGHT_MISSING" in codes(doc)
    assert doc["patient"]["bsa_dubois_m2"] is None
    assert "BSA (height and weight)" in doc["sirt"]["methods"]["bsa"]["missing"]
    assert doc["sirt"]["methods"]["bsa"]["injected_activity_gbq"] is None
    cm = run(phantom(), planner=planner, patient=PatientInfo(height_m=175.0, weight_kg=80.0))
    assert "PATIENT_HEIGHT_IMPLAUSIBLE" in codes(cm)
    assert cm["flr"]["telv_ml"] is None


def test_lsf_above_20_percent_resin_is_not_treated(phantom: PhantomFactory) -> None:
    planner = PlannerInputs(lung_shunt_fraction=0.22, territory="right",
                            microspheres=Microspheres.RESIN)
    doc = run(phantom(), planner=planner)
    bsa = doc["sirt"]["methods"]["bsa"]
    assert bsa["do_not_treat"] is True and bsa["injected_activity_gbq"] is None
    assert bsa["activity_before_lung_shunt_rule_gbq"] > 0
    assert "LSF_ABOVE_LIMIT" in codes(doc)


def test_tn_below_one_is_flagged_and_still_computed(phantom: PhantomFactory) -> None:
    lm = phantom()
    lm[7:10, 13:18, 10:24] = 9
    planner = PlannerInputs(lung_shunt_fraction=0.05, territory="right",
                            microspheres=Microspheres.RESIN,
                            tumour_to_normal_ratio=0.8, pretreated=False)
    doc = run(lm, planner=planner)
    assert "TN_BELOW_ONE" in codes(doc)
    part = doc["sirt"]["methods"]["partition"]
    assert part["implied_doses"]["normal_liver_gy"] == pytest.approx(40.0)
    assert part["implied_doses"]["tumour_gy"] == pytest.approx(32.0)


def test_without_planner_inputs_nothing_is_invented(phantom: PhantomFactory) -> None:
    doc = run(phantom())
    sirt = doc["sirt"]
    assert sirt["status"] == "not_computed" and sirt["computed_methods"] == []
    assert {"territory", "lung_shunt_fraction", "microspheres", "target_dose_gy",
            "tumour_to_normal_ratio"} <= set(sirt["missing"])
    assert all(m.get("injected_activity_gbq") is None for m in sirt["methods"].values())


def test_planner_defaults_from_config_are_used_and_sourced(phantom: PhantomFactory) -> None:
    cfg = QuantificationConfig(planner_defaults=PlannerInputs(microspheres=Microspheres.GLASS,
                                                              territory="whole"))
    doc = run(phantom(), planner=PlannerInputs(lung_shunt_fraction=0.05, target_dose_gy=120),
              config=cfg)
    assert doc["sirt"]["methods"]["mird"]["injected_activity_gbq"] is not None
    source = doc["inputs"]["planner_source"]
    assert source["microspheres"] == "site default" and source["lung_shunt_fraction"] == "planner"
    assert source["bilirubin_mg_dl"] is None
    assert doc["constants"]["energy_gy_kg_per_gbq"] == 49.67


def test_image_lsf_and_tn_feed_the_plan_unless_the_planner_typed_them(
        phantom: PhantomFactory) -> None:
    cfg = QuantificationConfig(planner_defaults=PlannerInputs(
        microspheres=Microspheres.GLASS, territory="whole", lung_shunt_fraction=0.2,
        tumour_to_normal_ratio=1.5))
    measured = PlannerInputs(lung_shunt_fraction=0.085, tumour_to_normal_ratio=2.67)
    doc = quantify(phantom(), DEMO_LABELS, SPACING, PATIENT, PlannerInputs(target_dose_gy=120),
                   QualityContext(slice_thickness_mm=2.0), cfg,
                   image_inputs=measured).to_dict()
    source = doc["inputs"]["planner_source"]
    assert source["lung_shunt_fraction"] == source["tumour_to_normal_ratio"] == MEASURED_SOURCE
    assert doc["sirt"]["lung_shunt_fraction"] == 0.085          # not the site default 0.2
    assert doc["inputs"]["planner_effective"]["tumour_to_normal_ratio"] == 2.67
    typed = quantify(phantom(), DEMO_LABELS, SPACING, PATIENT,
                     PlannerInputs(target_dose_gy=120, lung_shunt_fraction=0.05),
                     QualityContext(slice_thickness_mm=2.0), cfg,
                     image_inputs=measured).to_dict()
    assert typed["sirt"]["lung_shunt_fraction"] == 0.05
    assert typed["inputs"]["planner_source"]["lung_shunt_fraction"] == "planner"
    assert typed["inputs"]["planner_source"]["tumour_to_normal_ratio"] == MEASURED_SOURCE
    # a re-plan keeps the measured values and their source; typing one now overrides it
    again = replan(doc, PlannerInputs(), cfg)
    assert again["sirt"]["lung_shunt_fraction"] == 0.085
    assert again["inputs"]["planner_source"]["lung_shunt_fraction"] == MEASURED_SOURCE
    override = replan(doc, PlannerInputs(lung_shunt_fraction=0.12), cfg)
    assert override["sirt"]["lung_shunt_fraction"] == 0.12
    assert override["inputs"]["planner_source"]["lung_shunt_fraction"] == "planner"


def test_lung_mass_from_ct(phantom: PhantomFactory) -> None:
    lm = phantom((16, 40, 44))
    lm[12:15, 5:35, 5:40] = 13
    labels = {**DEMO_LABELS, 13: Structure.LUNG}
    hu = np.full(lm.shape, -800.0, np.float32)
    cfg = QuantificationConfig(lung_mass_from_ct=True)
    doc = run(lm, labels=labels, hu=hu, config=cfg)
    lung_ml = 3 * 30 * 35 * VOXEL_ML
    assert doc["volumes_ml"]["lung"] == pytest.approx(lung_ml)
    assert doc["sirt"]["lung_mass"] == {"kg": pytest.approx(lung_ml * 0.2 / 1000),
                                        "source": "ct", "label": "measured on CT"}
    no_hu = run(lm, labels=labels, config=cfg)
    assert no_hu["sirt"]["lung_mass"]["source"] == "config"
    assert "LUNG_MASS_NOT_FROM_CT" in codes(no_hu)


def test_vessel_voxels_are_not_liver(phantom: PhantomFactory) -> None:
    lm = phantom()
    lm[2:5, 5:7, 10:30] = 10
    doc = run(lm)
    vessel = 3 * 2 * 20 * VOXEL_ML
    assert doc["volumes_ml"]["portal_vein"] == pytest.approx(vessel)
    assert doc["volumes_ml"]["liver"] == pytest.approx(8 * SEG_ML - vessel)
    assert "VESSELS_NOT_PARENCHYMA" in codes(doc)


def test_lesion_map_names_each_lesion_by_its_component(phantom: PhantomFactory) -> None:
    """The lesion map (SEG lesion segments) comes from the components the lesions were
    measured on: each lesion's voxels carry its index, a fragment below the minimum none."""
    lm = phantom()
    lm[2:4, 3:6, 10:14] = 9  # 24 voxels: lesion 1 (the larger)
    lm[6:8, 20:22, 30:33] = 9  # 12 voxels: lesion 2
    lm[10, 30, 30] = 9  # 1 voxel, below the minimum volume
    cfg = QuantificationConfig(min_lesion_volume_mm3=5.0)
    result = quantify(lm, DEMO_LABELS, SPACING, PATIENT, PlannerInputs(),
                      QualityContext(slice_thickness_mm=2.0), cfg)
    assert [les.voxel_count for les in result.lesions] == [24, 12]
    assert len({les.component_label for les in result.lesions}) == 2
    lesion_map = result.lesion_map
    assert lesion_map is not None
    assert (lesion_map[2:4, 3:6, 10:14] == 1).all()
    assert (lesion_map[6:8, 20:22, 30:33] == 2).all()
    assert lesion_map[10, 30, 30] == 0
    assert int((lesion_map > 0).sum()) == 36


def test_no_lesion_map_without_lesions(phantom: PhantomFactory) -> None:
    result = quantify(phantom(), DEMO_LABELS, SPACING, PATIENT, PlannerInputs(),
                      QualityContext(slice_thickness_mm=2.0), QuantificationConfig())
    assert result.lesions == () and result.lesion_map is None


def test_result_document_reads_back_to_the_same_types(phantom: PhantomFactory) -> None:
    """A re-plan reads result.json back: from_dict(to_dict()) gives the same document,
    withheld lesion figures included."""
    lm = phantom((12, 40, 44))
    lm[3:6, 20:25, 0:8] = 9  # touches the edge: the tumour is withheld
    lm[6:8, 5:8, 20:24] = 9
    planner = PlannerInputs(lung_shunt_fraction=0.05, territory="right",
                            microspheres=Microspheres.RESIN, tumour_to_normal_ratio=3.0,
                            planned_resection="right_hepatectomy", prior_sflr_percent=20.0)
    result = quantify(lm, DEMO_LABELS, SPACING, PATIENT, planner,
                      QualityContext(slice_thickness_mm=2.0), QuantificationConfig())
    doc = result.to_dict()
    assert any(les.withheld for les in result.lesions)
    assert QuantResult.from_dict(doc).to_dict() == doc


@pytest.mark.parametrize("microspheres", [Microspheres.RESIN, Microspheres.GLASS])
def test_computed_plan_reads_back_to_the_same_types(phantom: PhantomFactory,
                                                    microspheres: Microspheres) -> None:
    """Every SIRT method computed (times, residual, dose goal): the plan reads back whole."""
    lm = phantom()
    lm[2:4, 3:6, 10:14] = 9
    planner = PlannerInputs(
        lung_shunt_fraction=0.05, territory="segments:1,2", microspheres=microspheres,
        tumour_to_normal_ratio=3.0, target_dose_gy=120.0, tumour_target_dose_gy=150.0,
        residual_fraction=0.05, prior_lung_dose_gy=4.0,
        calibration_time="2026-01-10T12:00:00", administration_time="2026-01-12T09:00:00",
        planned_resection="right_hepatectomy", prior_sflr_percent=20.0,
        pve_date="2025-12-01", pretreated=True)
    result = quantify(lm, DEMO_LABELS, SPACING, PATIENT, planner,
                      QualityContext(slice_thickness_mm=2.0), QuantificationConfig())
    doc = result.to_dict()
    expected = ["bsa", "mird", "partition"] if microspheres is Microspheres.RESIN else ["mird"]
    assert doc["sirt"]["computed_methods"][:len(expected)] == expected
    assert doc["sirt"]["methods"]["mird"]["activities"]["vial_at_calibration_gbq"] is not None
    assert QuantResult.from_dict(doc).to_dict() == doc
