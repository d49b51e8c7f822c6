"""The planner pages' view of a result document: doses with their regions and rules, two
versions side by side, the form's hints from the newest version."""

from __future__ import annotations

from typing import Any

from dicomnode.web.plan_view import compare_rows, plan_summary, planner_placeholders


def _flag(code: str, rule_id: str, status: str) -> dict[str, Any]:
    return {
        "code": code,
        "rule_id": rule_id,
        "rule": f"rule of {rule_id}",
        "status": status,
        "note": "",
    }


def _version_2() -> dict[str, Any]:
    bsa = {
        "injected_activity_gbq": 0.8668,
        "missing": [],
        "activities": {
            "reference": "at administration",
            "decay_factor": 2.178,
            "vial_at_calibration_gbq": None,
            "missing": ["residual_fraction"],
        },
        "implied_doses": {
            "target_mean_gy": 41.06,
            "normal_liver_gy": 34.38,
            "tumour_gy": 103.2,
            "lung_gy": 2.58,
            "lung_cumulative_gy": None,
        },
        "flags": [
            _flag("NORMAL_LIVER_DOSE", "EANM2022-RESIN-NL-UNILOBAR", "met"),
            _flag("LUNG_DOSE_CUMULATIVE", "EANM2022-LUNG-CUMULATIVE", "not_evaluable"),
        ],
    }
    return {
        "result_version": 2,
        "sirt": {
            "status": "computed",
            "microspheres": "resin",
            "lung_shunt_fraction": 0.07,
            "target": {"territory": "segments:5,6", "segments": [5, 6]},
            "methods": {
                "bsa": bsa,
                "mird": {"injected_activity_gbq": None, "missing": ["target_dose_gy"]},
            },
        },
        "inputs": {
            "planner": {
                "lung_shunt_fraction": 0.07,
                "territory": "segments:5,6",
                "microspheres": "resin",
                "pretreated": False,
                "residual_fraction": None,
            }
        },
        "patient": {"height_m": 1.8, "weight_kg": None},
    }


def test_a_plan_names_each_dose_with_its_region_and_rules() -> None:
    plan = plan_summary(_version_2())
    assert (plan.version, plan.territory, plan.microspheres, plan.lung_shunt_percent) == (
        2,
        "segments 5,6",
        "resin",
        7.0,
    )
    bsa = plan.method("bsa")
    assert bsa is not None and bsa.computed and bsa.decay_factor == 2.178
    doses = {d.region: d for d in bsa.doses}
    assert list(doses) == [
        "treated territory",
        "normal liver of the territory",
        "tumour in the territory",
        "lungs (this session)",
        "lungs (cumulative)",
    ]
    [rule] = doses["normal liver of the territory"].rules
    assert rule.text == "EANM2022-RESIN-NL-UNILOBAR: rule of EANM2022-RESIN-NL-UNILOBAR: met"
    mird = plan.method("mird")
    assert mird is not None and not mird.computed and mird.missing == ("target_dose_gy",)


def test_two_versions_side_by_side() -> None:
    lines = compare_rows(plan_summary({}), plan_summary(_version_2()))
    headings = [i for i, r in enumerate(lines) if r.heading]
    assert [lines[i].label for i in headings] == ["BSA method", "Single compartment (MIRD)"]
    general = {r.label: r for r in lines[: headings[0]]}
    assert general["Treated territory"].old == ("not given",)
    assert general["Lung shunt fraction"].new == ("7 %",)
    assert [(r.label, r.new) for r in lines[headings[1] + 1 :]] == [
        ("Injected activity", ("not computed (missing: target_dose_gy)",))
    ]
    rows = {r.label: r for r in lines[headings[0] + 1 : headings[1]]}
    assert rows["Injected activity"].new == ("0.867 GBq (at administration)",)
    assert rows["Vial activity at calibration"].new == (
        "not computed (missing: residual_fraction); decay factor 2.178",
    )
    assert rows["Dose: lungs (cumulative)"].new == (
        "not reported",
        "EANM2022-LUNG-CUMULATIVE: rule of EANM2022-LUNG-CUMULATIVE: not evaluable",
    )
    assert rows["Dose: normal liver of the territory"].old == ("—",)


def test_the_form_shows_the_newest_versions_inputs() -> None:
    assert planner_placeholders(_version_2()) == {
        "lung_shunt_percent": "7",
        "microspheres": "resin",
        "pretreated": "no",
        "territory": "segments",
        "territory_segments": "5,6",
        "height_m": "1.8",
    }
