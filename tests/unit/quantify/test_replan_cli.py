"""replan() and the ``dicomnode plan`` command: new versions, kept measurements."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dicomnode.cli.app import app
from dicomnode.planning.inputs import PlanInputError, given_inputs, plan_inputs
from dicomnode.planning.versions import (
    PlanConflictError,
    compute_plan,
    result_versions,
    write_plan,
)
from pipeline.encode.config import EncodeConfig
from pipeline.quantify.config import QuantificationConfig
from pipeline.quantify.inputs import Microspheres, PatientInfo, PlannerInputs, QualityContext
from pipeline.quantify.quantify import quantify, replan
from pipeline.structures import DEMO_LABELS

from .conftest import PhantomFactory

SPACING = (2.0, 0.8, 0.8)


def _first_result(phantom: PhantomFactory, patient: PatientInfo) -> dict:
    lm = phantom()
    lm[7:10, 13:18, 10:24] = 9
    doc = quantify(
        lm,
        DEMO_LABELS,
        SPACING,
        patient,
        PlannerInputs(),
        QualityContext(slice_thickness_mm=2.0),
        QuantificationConfig(),
    ).to_dict()
    return {"series": {"uid": "1.2.3"}, "confidence": {"liver": 0.97}, **doc}


def test_replan_recomputes_plan_and_keeps_measurements(phantom: PhantomFactory) -> None:
    first = _first_result(phantom, PatientInfo(weight_kg=80.0))
    assert "PATIENT_HEIGHT_MISSING" in {w["code"] for w in first["warnings"]}
    planner = PlannerInputs(
        lung_shunt_fraction=0.12, territory="right", microspheres=Microspheres.RESIN
    )
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
    fresh = quantify(
        lm,
        DEMO_LABELS,
        SPACING,
        PatientInfo(height_m=1.75, weight_kg=80.0),
        planner,
        QualityContext(slice_thickness_mm=2.0),
        QuantificationConfig(),
    ).to_dict()
    assert second["sirt"] == fresh["sirt"] and second["flr"] == fresh["flr"]
    third = replan(second, PlannerInputs(tumour_to_normal_ratio=3.0), QuantificationConfig())
    assert third["plan_revision"] == 3
    assert third["inputs"]["planner"]["lung_shunt_fraction"] == 0.12  # earlier input kept
    assert third["sirt"]["methods"]["partition"]["tumour_to_normal_ratio"] == 3.0


def test_plan_command_writes_new_versions(phantom: PhantomFactory, tmp_path: Path) -> None:
    first = _first_result(phantom, PatientInfo(height_m=1.75, weight_kg=80.0))
    (tmp_path / "result.json").write_text(json.dumps(first))
    runner = CliRunner()
    res = runner.invoke(
        app,
        [
            "plan",
            str(tmp_path),
            "--lsf",
            "0.08",
            "--tn",
            "3",
            "--territory",
            "right",
            "--microspheres",
            "resin",
            "--pretreated",
        ],
    )
    assert res.exit_code == 0, res.output
    assert "partition: A_inj" in res.output and "bsa: A_inj" in res.output
    res = runner.invoke(
        app,
        ["plan", str(tmp_path), "--territory", "segments:5,6", "--target-dose-gy", "150", "--json"],
    )
    assert res.exit_code == 0, res.output
    assert sorted(result_versions(tmp_path)) == [1, 2, 3]
    assert json.loads((tmp_path / "result.json").read_text()) == first
    v3 = json.loads((tmp_path / "result.v3.json").read_text())
    assert v3["result_version"] == 3 and v3["supersedes"] == "result.v2.json"
    assert v3["sirt"]["target"]["segments"] == [5, 6]
    assert v3["sirt"]["lung_shunt_fraction"] == 0.08
    assert v3["sirt"]["methods"]["mird"]["target_dose_gy"] == 150


@pytest.mark.parametrize(
    "args", [["--lsf", "8"], ["--territory", "segments:9"], ["--microspheres", "ceramic"]]
)
def test_plan_command_rejects_bad_inputs(
    phantom: PhantomFactory, tmp_path: Path, args: list[str]
) -> None:
    (tmp_path / "result.json").write_text(json.dumps(_first_result(phantom, PatientInfo())))
    res = CliRunner().invoke(app, ["plan", str(tmp_path), *args])
    assert res.exit_code != 0
    assert sorted(result_versions(tmp_path)) == [1]


def test_plan_command_without_result(tmp_path: Path) -> None:
    assert CliRunner().invoke(app, ["plan", str(tmp_path)]).exit_code != 0


def test_plan_inputs_reads_form_values_with_units() -> None:
    planner, patient = plan_inputs(
        {
            "lung_shunt_percent": "7",
            "residual_percent": "1.5",
            "territory": "segments",
            "territory_segments": "6, 5",
            "microspheres": "Glass",
            "pretreated": "no",
            "calibration_time": "2026-03-02T12:00",
            "administration_time": "2026-03-05T12:00",
            "custom_resections": "posterior:6,7; anterior:5,8",
            "pve_date": "2026-01-15",
            "height_m": "1.80",
            "weight_kg": "",
            "csrf_token": "ignored",
        }
    )
    assert planner.lung_shunt_fraction == 0.07 and planner.residual_fraction == 0.015
    assert planner.territory == "segments:5,6" and planner.microspheres is Microspheres.GLASS
    assert planner.pretreated is False
    assert planner.custom_resections == {"posterior": [6, 7], "anterior": [5, 8]}
    assert (planner.administration_time - planner.calibration_time).total_seconds() == 72 * 3600
    assert patient == PatientInfo(height_m=1.8)
    assert given_inputs(planner, patient)["planner"]["lung_shunt_fraction"] == 0.07


def test_plan_inputs_names_every_wrong_field() -> None:
    with pytest.raises(PlanInputError) as caught:
        plan_inputs(
            {
                "lung_shunt_percent": "120",
                "territory": "segments",
                "microspheres": "ceramic",
                "calibration_time": "yesterday",
                "weight_kg": "eighty",
                "tumour_to_normal_ratio": "0",
                "target_dose_gy": "nan",
                "custom_resections": "posterior",
            }
        )
    errors = caught.value.errors
    assert set(errors) == {
        "lung_shunt_percent",
        "territory_segments",
        "microspheres",
        "calibration_time",
        "weight_kg",
        "tumour_to_normal_ratio",
        "target_dose_gy",
        "custom_resections",
    }
    assert errors["lung_shunt_percent"] == "120 % is out of range (0 <= value < 100 %)"
    assert errors["tumour_to_normal_ratio"] == "0 is out of range (0 < value <= 100)"
    assert errors["microspheres"] == "one of resin, glass"


def test_plan_inputs_reports_a_cross_field_problem_under_a_field() -> None:
    with pytest.raises(PlanInputError) as caught:
        plan_inputs(
            {
                "calibration_time": "2026-03-02T12:00+01:00",
                "administration_time": "2026-03-05T12:00",
            }
        )
    assert "time-zone offset" in caught.value.errors["calibration_time"]
    with pytest.raises(PlanInputError) as caught:
        plan_inputs({"territory": "left", "territory_segments": "2,3"})
    assert set(caught.value.errors) == {"territory_segments"}


def test_compute_plan_writes_nothing(phantom: PhantomFactory, tmp_path: Path) -> None:
    (tmp_path / "result.json").write_text(
        json.dumps(_first_result(phantom, PatientInfo(height_m=1.75, weight_kg=80.0)))
    )
    before = sorted(p.name for p in tmp_path.iterdir())
    planner, patient = plan_inputs(
        {"lung_shunt_percent": "8", "territory": "right", "microspheres": "resin"}
    )
    preview = compute_plan(tmp_path, planner, patient, QuantificationConfig())
    assert sorted(p.name for p in tmp_path.iterdir()) == before
    assert preview.version == 2 and preview.doc["supersedes"] == "result.json"
    assert preview.doc["sirt"]["lung_shunt_fraction"] == 0.08
    written = write_plan(preview, EncodeConfig())
    assert written.paths == [tmp_path / "result.v2.json"] and written.dicom == ()
    with pytest.raises(PlanConflictError):  # the same preview again: version 2 exists now
        write_plan(preview, EncodeConfig())
    assert sorted(result_versions(tmp_path)) == [1, 2]


def test_plan_command_keeps_fractions_exact(phantom: PhantomFactory, tmp_path: Path) -> None:
    (tmp_path / "result.json").write_text(
        json.dumps(_first_result(phantom, PatientInfo(height_m=1.75, weight_kg=80.0)))
    )
    res = CliRunner().invoke(
        app,
        [
            "plan",
            str(tmp_path),
            "--lsf",
            "0.07",
            "--residual",
            "0.03",
            "--territory",
            "segments:5,6",
            "--pretreated",
        ],
    )
    assert res.exit_code == 0, res.output
    planner = json.loads((tmp_path / "result.v2.json").read_text())["inputs"]["planner"]
    assert planner["lung_shunt_fraction"] == 0.07 and planner["residual_fraction"] == 0.03
    assert planner["territory"] == "segments:5,6" and planner["pretreated"] is True
    res = CliRunner().invoke(app, ["plan", str(tmp_path), "--lsf", "8", "--tn", "-1"])
    assert res.exit_code != 0
    assert "--lsf: 800 % is out of range" in res.output and "--tn:" in res.output
