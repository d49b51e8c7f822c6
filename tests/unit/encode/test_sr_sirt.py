"""SIRT plans in the SR: every dose with its region, every activity with its time reference.

Resin and glass, unilobar, bilobar and segmental plans are quantified on the encode
phantom, written into the SR, read back with ``highdicom.sr.srread`` and recovered from the SR
alone (finding type, finding sites, SEG segment references, time point, rule checks).
"""

from __future__ import annotations

import dataclasses
import datetime as dt

import highdicom as hd
import pytest
from dicom_roundtrip import reread
from encode_report_fixture import report_content
from sirt_sr_reader import ReadGroup, read_groups

from pipeline.encode import codes
from pipeline.encode.seg import build_seg
from pipeline.encode.sr import build_sr
from pipeline.quantify.config import QualityGates, QuantificationConfig
from pipeline.quantify.inputs import Microspheres, PatientInfo, PlannerInputs, QualityContext
from pipeline.quantify.quantify import quantify
from pipeline.run.report_content import flr_measurements
from pipeline.run.sirt_report import sirt_groups

CONFIG = QuantificationConfig(quality=QualityGates(incomplete_coverage_action="warn"))
CAL = dt.datetime(2026, 3, 2, 12, 0)
PLANS = {
    "resin unilobar": PlannerInputs(lung_shunt_fraction=0.06, tumour_to_normal_ratio=3,
                                    territory="left", microspheres=Microspheres.RESIN),
    "resin bilobar": PlannerInputs(lung_shunt_fraction=0.06, tumour_to_normal_ratio=3,
                                   territory="whole", microspheres=Microspheres.RESIN,
                                   target_dose_gy=35),
    "glass unilobar": PlannerInputs(lung_shunt_fraction=0.05, tumour_to_normal_ratio=2,
                                    territory="left", microspheres=Microspheres.GLASS,
                                    target_dose_gy=120, residual_fraction=0.02,
                                    calibration_time=CAL,
                                    administration_time=CAL + dt.timedelta(hours=72)),
    "glass segmental": PlannerInputs(lung_shunt_fraction=0.05, tumour_to_normal_ratio=2,
                                     territory="segments:2", microspheres=Microspheres.GLASS,
                                     target_dose_gy=400, bilirubin_mg_dl=0.9),
}
REGIONS = {"treated territory": codes.TREATED_TERRITORY,
           "normal liver of territory": codes.TERRITORY_NORMAL_LIVER,
           "whole normal liver": codes.WHOLE_NORMAL_LIVER,
           "tumour in territory": codes.TUMOUR_IN_TERRITORY, "lungs": codes.LUNG}
DOSE_KEYS = {"treated territory": "target_mean_gy", "normal liver of territory":
             "normal_liver_gy", "whole normal liver": "whole_normal_liver_gy",
             "tumour in territory": "tumour_gy", "lungs": "lung_gy"}
ROMAN = ("I", "II", "III", "IV", "V", "VI", "VII", "VIII")
PREFIX = {"bsa": "SIRT BSA method", "mird": "SIRT MIRD", "partition": "SIRT partition"}


@pytest.fixture(scope="module")
def seg(ct_series, segmentation):
    volume, headers = ct_series
    return build_seg(volume, headers, segmentation)


def _plan(ct_series, segmentation, seg, planner: PlannerInputs
          ) -> tuple[dict, dict[str, ReadGroup]]:
    volume, headers = ct_series
    quant = quantify(segmentation.labelmap, segmentation.labels, volume.spacing_mm,
                     PatientInfo(height_m=1.75, weight_kg=80.0), planner,
                     QualityContext(slice_thickness_mm=2.5), CONFIG)
    doc = quant.to_dict()
    content = dataclasses.replace(report_content(volume.series_instance_uid,
                                                 segmentation.algorithm),
                                  sirt=sirt_groups(quant.sirt, quant.inputs,
                                                   CONFIG.bsa_formula_sirt),
                                  flr=flr_measurements(quant.flr, quant.constants))
    return doc, read_groups(reread(build_sr(seg, headers, content), hd.sr.srread))


@pytest.mark.parametrize("name", list(PLANS))
def test_every_dose_is_recovered_with_its_region(ct_series, segmentation, seg,
                                                 name: str) -> None:
    doc, groups = _plan(ct_series, segmentation, seg, PLANS[name])
    numbers = {str(s.TrackingID): int(s.SegmentNumber) for s in seg.SegmentSequence}
    computed = doc["sirt"]["computed_methods"]
    assert computed
    doses_in_sr = 0
    for method in computed:
        doses = doc["sirt"]["methods"][method]["implied_doses"]
        for region, concept in REGIONS.items():
            value = doses[DOSE_KEYS[region]]
            group = groups.get(f"{PREFIX[method]}: {region}")
            if value is None:
                assert group is None or all(m[0] != codes.MEAN_ABSORBED_DOSE.value
                                            for m in group.measurements)
                continue
            assert group is not None, (method, region)
            assert group.finding_type == concept.value
            dose = [m for m in group.measurements if m[0] == codes.MEAN_ABSORBED_DOSE.value]
            assert len(dose) == 1 and dose[0][2] == "Gy"
            assert dose[0][1] == pytest.approx(value)
            doses_in_sr += 1
            if region in ("treated territory", "normal liver of territory"):
                segs = doc["sirt"]["target"]["segments"]
                assert sorted(dose[0][3]) == sorted(numbers[f"Couinaud segment {ROMAN[s - 1]}"]
                                                    for s in segs)
            if region == "tumour in territory":
                assert dose[0][3] == [numbers["All liver metastases"]]
                assert codes.NEOPLASM.value in group.sites
            if region == "lungs":
                assert group.evaluations[codes.LUNG_MASS_SOURCE.value] == \
                    codes.FROM_SITE_DEFAULT.value
                assert codes.LUNG.value in group.sites
    # No mean absorbed dose anywhere else in the SR.
    all_doses = sum(1 for g in groups.values() for m in g.measurements
                    if m[0] == codes.MEAN_ABSORBED_DOSE.value)
    assert all_doses == doses_in_sr


@pytest.mark.parametrize("name", list(PLANS))
def test_every_activity_has_its_time_reference(ct_series, segmentation, seg,
                                               name: str) -> None:
    doc, groups = _plan(ct_series, segmentation, seg, PLANS[name])
    activity_codes = {codes.PLANNED_INJECTED_ACTIVITY.value, codes.PLANNED_VIAL_ACTIVITY.value}
    for group in groups.values():
        if any(m[0] in activity_codes for m in group.measurements):
            assert group.time_point.startswith(("administration", "calibration")), group.title
    for method in doc["sirt"]["computed_methods"]:
        act = doc["sirt"]["methods"][method]["activities"]
        admin = groups[f"{PREFIX[method]}: activity at administration"]
        injected = [m for m in admin.measurements
                    if m[0] == codes.PLANNED_INJECTED_ACTIVITY.value]
        assert injected[0][1] == pytest.approx(act["injected_at_administration_gbq"])
        assert injected[0][2] == "GBq"
        calibration = groups.get(f"{PREFIX[method]}: vial at calibration")
        if act["calibration_time"] is None:
            assert calibration is None
            assert admin.time_point == "administration (date and time not given)"
            continue
        assert admin.time_point == f"administration {act['administration_time']}"
        assert calibration is not None
        assert calibration.time_point == "calibration 2026-03-02T12:00:00"
        values = {m[0]: m[1] for m in calibration.measurements}
        assert values[codes.PLANNED_VIAL_ACTIVITY.value] == pytest.approx(
            act["vial_at_calibration_gbq"])
        assert values[codes.DECAY_FACTOR.value] == pytest.approx(2.1784, abs=1e-4)


def test_inputs_sources_territory_method_and_rules(ct_series, segmentation, seg) -> None:
    doc, groups = _plan(ct_series, segmentation, seg, PLANS["resin bilobar"])
    planner = groups["SIRT inputs: planner"]
    assert planner.evaluations[codes.INPUT_SOURCE.value] == codes.FROM_PLANNER.value
    assert planner.evaluations[codes.MICROSPHERES.value] == codes.RESIN.value
    assert planner.evaluations[codes.TERRITORY_EXTENT.value] == codes.WHOLE_LIVER_TERRITORY.value
    lsf = [m for m in planner.measurements if m[0] == codes.LUNG_SHUNT_FRACTION.value]
    assert lsf[0][1:3] == (pytest.approx(6.0), "%")
    header = groups["SIRT inputs: header"]
    assert {m[0] for m in header.measurements} == {codes.BODY_HEIGHT.value,
                                                   codes.BODY_WEIGHT.value}
    bsa = groups["SIRT BSA method: activity at administration"]
    assert bsa.evaluations[codes.SIRT_METHOD.value] == codes.BSA_METHOD.value
    assert bsa.evaluations[codes.BSA_FORMULA.value] == "DUBOIS"
    # Bilobar resin with pretreatment unknown: both candidate rules and the unknown input.
    normal = groups["SIRT MIRD: normal liver of territory"]
    assert normal.evaluations["EANM2022-RESIN-NL-BILOBAR"] == codes.RULE_MET.value
    assert normal.evaluations["EANM2022-RESIN-NL-BILOBAR-PRE"] == codes.RULE_NOT_MET.value
    assert normal.evaluations[codes.UNKNOWN_INPUT.value] == codes.PRETREATED.value
    flags = doc["sirt"]["methods"]["mird"]["flags"]
    assert next(f for f in flags if f["code"] == "NORMAL_LIVER_DOSE")["status"] == \
        "depends_on_unknown_input"
    flr = groups["FLR Right hepatectomy"]
    assert flr.evaluations["TRUANT2007-FLR-BW"] in (codes.RULE_MET.value,
                                                    codes.RULE_NOT_MET.value)
    assert flr.evaluations[codes.TELV_FORMULA.value] == "VAUTHEY"
