"""replan() and the ``dicomnode plan`` command: new versions, kept measurements."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dicomnode.cli.app import app
from dicomnode.cli.plan_cmd import result_versions
from pipeline.quantify.config import QuantificationConfig
from pipeline.quantify.inputs import Microspheres, PatientInfo, PlannerInputs, QualityContext
from pipeline.quantify.quantify import quantify, replan
from pipeline.structures import DEMO_LABELS

from .conftest import PhantomFactory

SPACING = (2.0, 0.8, 0.8)


def _first_result(phantom: PhantomFactory, patient: PatientInfo) -> dict:
    lm = phantom()
    lm[7:10, 13:18, 10:24] = 9
    doc = quantify(lm, DEMO_LABELS, SPACING, patient, PlannerInputs(),
                   QualityContext(slice_thickness_mm=2.0), QuantificationConfig()).to_dict()
    return {"series": {"uid": "1.2.3"}, "confidence": {"liver": 0.97}, **doc}


def test_replan_recomputes_plan_and_keeps_measurements(phantom: PhantomFactory) -> None:
    first = _first_result(phantom, PatientInfo(weight_kg=80.0))
    assert "PATIENT_HEIGHT_MISSING" in {w["code"] for w in first["warnings"]}
    planner = PlannerInputs(lung_shunt_fraction=0.12, territory="right",
                            microspheres=Microspheres.RESIN)
    second = replan(first, planner, QuantificationConfig(), PatientInfo(height_m=1.75))
    assert second["plan_revision"] == 2
    assert second["volumes_ml"] == first["volumes_ml"] and second["lesions"] == first["lesions"]
    assert second["series"] == first["series"] and second["confidence"] == first["confidence"]
    codes = {w["code"] for w in second["warnings"]}
    assert "PATIENT_HEIGHT_MISSING" not in codes and "VESSELS_NOT_PARENCHYMA" in codes
    assert second["patient"]["height_m"] == 1.75 and second["patient"]["weight_kg"] == 80.0
    assert second["sirt"]["methods"]["bsa"]["injected_activity_gbq"] is not None
    # Equal to a fresh quantification with the same inputs.
    lm = phantom()
    lm[7:10, 13:18, 10:24] = 9
    fresh = quantify(lm, DEMO_LABELS, SPACING, PatientInfo(height_m=1.75, weight_kg=80.0),
                     planner, QualityContext(slice_thickness_mm=2.0),
                     QuantificationConfig()).to_dict()
    assert second["sirt"] == fresh["sirt"] and second["flr"] == fresh["flr"]
    third = replan(second, PlannerInputs(tumour_to_normal_ratio=3.0), QuantificationConfig())
    assert third["plan_revision"] == 3
    assert third["inputs"]["planner"]["lung_shunt_fraction"] == 0.12  # earlier input kept
    assert third["sirt"]["methods"]["partition"]["tumour_to_normal_ratio"] == 3.0


def test_plan_command_writes_new_versions(phantom: PhantomFactory, tmp_path: Path) -> None:
    first = _first_result(phantom, PatientInfo(height_m=1.75, weight_kg=80.0))
    (tmp_path / "result.json").write_text(json.dumps(first))
    runner = CliRunner()
    res = runner.invoke(app, ["plan", str(tmp_path), "--lsf", "0.08", "--tn", "3",
                              "--territory", "right", "--microspheres", "resin",
                              "--pretreated"])
    assert res.exit_code == 0, res.output
    assert "partition: A_inj" in res.output and "bsa: A_inj" in res.output
    res = runner.invoke(app, ["plan", str(tmp_path), "--territory", "segments:5,6",
                              "--target-dose-gy", "150", "--json"])
    assert res.exit_code == 0, res.output
    assert sorted(result_versions(tmp_path)) == [1, 2, 3]
    assert json.loads((tmp_path / "result.json").read_text()) == first
    v3 = json.loads((tmp_path / "result.v3.json").read_text())
    assert v3["result_version"] == 3 and v3["supersedes"] == "result.v2.json"
    assert v3["sirt"]["target"]["segments"] == [5, 6]
    assert v3["sirt"]["lung_shunt_fraction"] == 0.08
    assert v3["sirt"]["methods"]["mird"]["target_dose_gy"] == 150


@pytest.mark.parametrize("args", [["--lsf", "8"], ["--territory", "segments:9"],
                                  ["--microspheres", "ceramic"]])
def test_plan_command_rejects_bad_inputs(phantom: PhantomFactory, tmp_path: Path,
                                         args: list[str]) -> None:
    (tmp_path / "result.json").write_text(json.dumps(_first_result(phantom, PatientInfo())))
    res = CliRunner().invoke(app, ["plan", str(tmp_path), *args])
    assert res.exit_code != 0
    assert sorted(result_versions(tmp_path)) == [1]


def test_plan_command_without_result(tmp_path: Path) -> None:
    assert CliRunner().invoke(app, ["plan", str(tmp_path)]).exit_code != 0
