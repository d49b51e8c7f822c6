"""The PDF's first page: the SIRT worksheet a planner signs, read back with pdftotext.

Plans are quantified on the encode phantom and re-planned with planner inputs as
``dicomnode plan`` does; the first page's text must restate the plan of the result document:
territory, microspheres, inputs with their sources, activities with their time references,
each dose with its region and limit, the rules' status, warnings, the demo notice and the
signature lines, or, without a plan, what each method is missing.
"""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from pipeline.encode.pdf import build_pdf
from pipeline.quantify.config import QualityGates, QuantificationConfig
from pipeline.quantify.inputs import (
    Disease,
    Microspheres,
    PatientInfo,
    PlannerInputs,
    QualityContext,
)
from pipeline.quantify.quantify import quantify, replan
from pipeline.run.report_content import recorded_content

PDFTOTEXT = shutil.which("pdftotext") or "/usr/bin/pdftotext"
CONFIG = QuantificationConfig(quality=QualityGates(incomplete_coverage_action="warn"))
CAL = dt.datetime(2026, 3, 2, 12, 0)


@pytest.fixture(scope="module")
def measured(ct_series, segmentation) -> dict[str, Any]:
    """The automatic result (no planner inputs) of the phantom."""
    volume, _ = ct_series
    doc = quantify(segmentation.labelmap, segmentation.labels, volume.spacing_mm,
                   PatientInfo(height_m=1.75, weight_kg=80.0), PlannerInputs(),
                   QualityContext(slice_thickness_mm=2.5), CONFIG).to_dict()
    doc.update(series={"chosen_series_instance_uid": volume.series_instance_uid},
               segmentation={"demo": True, "models": [{"name": "demo", "version": "1"}]})
    return doc


def _first_page(doc: dict[str, Any], header, tmp_path: Path) -> str:
    path = tmp_path / "summary.pdf"
    path.write_bytes(build_pdf(None, header, None, recorded_content(doc, "Portal venous")))
    text = subprocess.run([PDFTOTEXT, "-raw", "-l", "1", str(path), "-"], check=True,
                          capture_output=True, text=True).stdout
    return " ".join(text.split())  # table cells wrap


_STATUS = {"met": "met", "not_met": "NOT MET", "not_evaluable": "not evaluable"}


def _flag(method: dict[str, Any], code: str) -> dict[str, Any]:
    return next(f for f in method["flags"] if f["code"] == code)


def _assert_dose_rows(method: dict[str, Any], target: dict[str, Any], text: str) -> None:
    """Each computed dose on its region's row, after the region's volume."""
    rows = {"target_mean_gy": ("Treated territory", "volume_ml"),
            "normal_liver_gy": ("Non-tumoral liver of the territory", "normal_ml"),
            "whole_normal_liver_gy": ("Whole non-tumoral liver", "whole_normal_liver_ml"),
            "tumour_gy": ("Tumour in the territory", "tumour_ml")}
    shown = 0
    for key, (region, volume) in rows.items():
        gy = method["implied_doses"][key]
        if gy is not None:
            assert f"{region} {target[volume]:.1f} mL {gy:.1f} Gy" in text, region
            shown += 1
    lung = method["implied_doses"]["lung_gy"]
    assert f"Lungs, this session 1.00 kg (site default (configured)) {lung:.1f} Gy" in text
    assert shown >= 3


def test_resin_plan_worksheet(measured, ct_series, tmp_path: Path) -> None:
    _, headers = ct_series
    doc = replan(measured, PlannerInputs(
        lung_shunt_fraction=0.06, tumour_to_normal_ratio=3, territory="left",
        microspheres=Microspheres.RESIN, residual_fraction=0.02, calibration_time=CAL,
        administration_time=CAL + dt.timedelta(hours=72)), CONFIG)
    text = _first_page(doc, headers[0], tmp_path)
    assert text.startswith("DEMO MODEL, NOT FOR CLINICAL USE")
    for expected in (f"ID: {headers[0].PatientID}", "SIRT worksheet (Y-90), plan revision 2",
                     "Demo model - not for clinical use",
                     "Territory: the left lobe (Couinaud 2, 3, 4). Microspheres: resin.",
                     "Body height 1.75 m CT header", "Plan: BSA method (resin) - the device's",
                     "Methods not computed Single compartment (MIRD): needs target_dose_gy",
                     "Planned by (name):", "Date/time:", "Signature:"):
        assert expected in text, expected
    assert "Lung shunt fraction 6 % planner" in text
    assert "Disease not given -" in text
    assert "Vial calibration time 2026-03-02 12:00 planner" in text
    bsa = doc["sirt"]["methods"]["bsa"]
    act = bsa["activities"]
    assert (f"Activity to inject into the left lobe (Couinaud 2, 3, 4) "
            f"{act['injected_at_administration_gbq']:.3f} at administration "
            "2026-03-05T12:00:00") in text
    assert (f"Vial activity at its calibration {act['vial_at_calibration_gbq']:.3f} at "
            "calibration 2026-03-02T12:00:00 decay factor 2.1784 over 72.0 h") in text
    _assert_dose_rows(bsa, doc["sirt"]["target"], text)
    assert ("EANM2022-RESIN-NL-UNILOBAR: <= 40 Gy (unilobar, pretreated or not) "
            f"{_STATUS[_flag(bsa, 'NORMAL_LIVER_DOSE')['status']]}") in text
    partition = doc["sirt"]["methods"]["partition"]
    assert (f"Partition model: {partition['injected_activity_gbq']:.3f} GBq at "
            "administration 2026-03-05T12:00:00") in text
    assert "Warnings [WARNING]" in text


def test_glass_plan_worksheet_shows_unknown_inputs_candidates(measured, ct_series,
                                                              tmp_path: Path) -> None:
    _, headers = ct_series
    doc = replan(measured, PlannerInputs(
        lung_shunt_fraction=0.05, tumour_to_normal_ratio=2, territory="whole",
        microspheres=Microspheres.GLASS, target_dose_gy=120, disease=Disease.HCC), CONFIG)
    text = _first_page(doc, headers[0], tmp_path)
    assert "Microspheres: glass." in text
    assert "Plan: Single compartment (MIRD) - the device's convention" in text
    mird = doc["sirt"]["methods"]["mird"]
    assert ("Activity to inject into the whole liver (Couinaud 1, 2, 3, 4, 5, 6, 7, 8) "
            f"{mird['injected_activity_gbq']:.3f} at administration (date and time not "
            "given)") in text
    _assert_dose_rows(mird, doc["sirt"]["target"], text)
    tumour = _flag(mird, "TUMOUR_DOSE")
    assert f"EANM2022-GLASS-TUMOUR-HCC: >= 205 Gy (HCC) {_STATUS[tumour['status']]}" in text
    # Bilirubin unknown: both whole-normal-liver limits and the status under each.
    wnl = _flag(mird, "WHOLE_NORMAL_LIVER_DOSE")
    assert wnl["unknown_inputs"] == ["bilirubin_mg_dl"]
    statuses = "; ".join(f"{_STATUS[c['status']]} if {c['applies_when']}"
                         for c in wnl["candidates"])
    assert ("EANM2022-GLASS-WNL | EANM2022-GLASS-WNL-BILIRUBIN: <= 75 Gy (bilirubin <= 1.1 "
            "mg/dL) or <= 50 Gy (bilirubin > 1.1 mg/dL) bilirubin_mg_dl unknown: "
            f"{statuses}") in text
    assert "Disease HCC planner" in text
    assert "BSA method (resin): not applicable" in text


def test_without_a_plan_the_worksheet_names_the_missing_inputs(measured, ct_series,
                                                               tmp_path: Path) -> None:
    _, headers = ct_series
    doc = dict(measured, segmentation={"demo": False, "models": [{"name": "m", "version": "2"}]})
    text = _first_page(doc, headers[0], tmp_path)
    assert "SIRT worksheet (Y-90), plan revision 1" in text
    assert "No SIRT plan computed: planner inputs missing" in text
    for line in ("BSA method (resin): needs territory, lung_shunt_fraction, microspheres",
                 "Single compartment (MIRD): needs territory, lung_shunt_fraction, "
                 "target_dose_gy",
                 "Partition model: needs territory, lung_shunt_fraction, "
                 "tumour_to_normal_ratio"):
        assert line in text, line
    assert "Planned by" not in text and "Demo model" not in text
