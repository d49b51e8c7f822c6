"""The SIRT plan and its inputs as the PDF's SIRT worksheet.

Takes the typed plan (:class:`~pipeline.quantify.sirt_plan.SIRTPlan`) and the ``inputs``
section of the result (``docs/result-json.md``) and formats every figure with its unit:
inputs with their sources, per computed method the activities with their time references,
the mean dose per region and the guideline limits with their rules; when no method computed
an activity, the inputs each method is missing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from pipeline.encode.worksheet import (
    SirtWorksheet,
    WorksheetActivity,
    WorksheetDose,
    WorksheetInput,
    WorksheetMethod,
)
from pipeline.quantify.advisory import Flag
from pipeline.quantify.sirt_plan import (
    BSAMethod,
    MethodPlan,
    PartitionMethod,
    SIRTPlan,
    Target,
)

METHOD_TITLES = {"bsa": "BSA method (resin)", "mird": "Single compartment (MIRD)",
                 "partition": "Partition model"}
"""Method key -> title on the worksheet."""

_SOURCES = {"planner": "planner", "site default": "site default", "header": "CT header"}

_STATUS = {"met": "met", "not_met": "NOT MET", "not_evaluable": "not evaluable"}

_TERRITORIES = {"whole": "the whole liver", "right": "the right lobe", "left": "the left lobe"}


def _num(value: float | None, unit: str, digits: int = 1) -> str:
    return "-" if value is None else f"{value:.{digits}f} {unit}".rstrip()


def _input_value(key: str, value: Any) -> str:
    """An effective planner input in words with its unit."""
    if value is None:
        return "not given"
    if key in ("lung_shunt_fraction", "residual_fraction"):
        return f"{100.0 * float(value):g} %"
    if key == "pretreated":
        return "yes" if value else "no"
    if key in ("calibration_time", "administration_time"):
        return str(value)[:16].replace("T", " ")
    if key == "disease":
        return {"hcc": "HCC", "mcrc": "mCRC"}.get(str(value), str(value))
    units = {"target_dose_gy": "Gy", "tumour_target_dose_gy": "Gy",
             "normal_liver_dose_limit_gy": "Gy", "prior_lung_dose_gy": "Gy",
             "bilirubin_mg_dl": "mg/dL"}
    return f"{value:g} {units[key]}" if key in units else str(value)


_PLANNER_INPUTS = (
    ("microspheres", "Microspheres"), ("territory", "Territory"),
    ("lung_shunt_fraction", "Lung shunt fraction"),
    ("tumour_to_normal_ratio", "Tumour-to-normal ratio (T/N)"),
    ("target_dose_gy", "Target mean dose (MIRD)"),
    ("tumour_target_dose_gy", "Tumour dose goal (partition)"),
    ("normal_liver_dose_limit_gy", "Normal-liver dose cap (partition)"),
    ("residual_fraction", "Residual in vial and lines"),
    ("calibration_time", "Vial calibration time"),
    ("administration_time", "Administration time"),
    ("prior_lung_dose_gy", "Lung dose of earlier sessions"),
    ("pretreated", "Liver pretreated or compromised"),
    ("disease", "Disease"), ("bilirubin_mg_dl", "Serum bilirubin"))


def worksheet_inputs(inputs: Mapping[str, Any]) -> tuple[WorksheetInput, ...]:
    """Every SIRT planning input and the patient's body size, with value and source."""
    values = inputs.get("planner_effective") or {}
    sources = inputs.get("planner_source") or {}
    out = [WorksheetInput(name, _input_value(key, values.get(key)),
                          _SOURCES.get(str(sources.get(key)), "-"))
           for key, name in _PLANNER_INPUTS]
    patient = inputs.get("patient") or {}
    patient_sources = inputs.get("patient_source") or {}
    for key, name, unit in (("height_m", "Body height", "m"), ("weight_kg", "Body weight", "kg")):
        value = patient.get(key)
        out.append(WorksheetInput(name, "not given" if value is None else f"{value:g} {unit}",
                                  _SOURCES.get(str(patient_sources.get(key)), "-")))
    return tuple(out)


def territory_text(target: Target | None) -> str:
    """The treated territory in words with its Couinaud segments ("not given" without)."""
    if target is None:
        return "not given"
    kind = str(target.territory)
    segments = ", ".join(str(s) for s in target.segments)
    if kind.startswith("segments"):
        return f"Couinaud segments {segments}"
    name = _TERRITORIES.get(kind, kind)
    return f"{name} (Couinaud {segments})" if segments else name


def _at(label: str, time: dt.datetime | None) -> str:
    return (f"at {label} {time.isoformat()}" if time is not None
            else f"at {label} (date and time not given)")


def _activities(method: MethodPlan, territory: str) -> tuple[WorksheetActivity, ...]:
    act = method.activities
    assert act is not None
    at_admin = _at("administration", act.administration_time)
    out = [WorksheetActivity(f"Activity to inject into {territory}",
                             act.injected_at_administration_gbq, at_admin)]
    if act.vial_at_administration_gbq is not None:
        out.append(WorksheetActivity("Vial activity incl. residual",
                                     act.vial_at_administration_gbq, at_admin))
    if act.vial_at_calibration_gbq is not None:
        assert act.decay_factor is not None
        assert act.hours_calibration_to_administration is not None
        out.append(WorksheetActivity(
            "Vial activity at its calibration", act.vial_at_calibration_gbq,
            _at("calibration", act.calibration_time),
            f"decay factor {act.decay_factor:.4f} over "
            f"{act.hours_calibration_to_administration:.1f} h "
            f"(half-life {act.half_life_h:g} h)"))
    elif act.missing:
        out[-1] = WorksheetActivity(out[-1].label, out[-1].gbq, out[-1].reference,
                                    "no activity at calibration: needs "
                                    + ", ".join(act.missing))
    return tuple(out)


_DOSE_OF_FLAG = {"SEGMENTECTOMY_DOSE": "target_mean_gy", "NORMAL_LIVER_DOSE": "normal_liver_gy",
                 "WHOLE_NORMAL_LIVER_DOSE": "whole_normal_liver_gy", "TUMOUR_DOSE": "tumour_gy",
                 "LUNG_DOSE_SESSION": "lung_gy", "LUNG_DOSE_CUMULATIVE": "lung_cumulative_gy"}
"""Guideline flag code -> the key of the dose it checks (``pipeline.quantify.limits``)."""


def _threshold(flag: Flag) -> str:
    """The rule without its region: ``<= 40 Gy (unilobar, pretreated or not)``."""
    rule, comparison = flag.rule, f" {flag.comparison} "
    return rule[rule.index(comparison) + 1:] if comparison in rule else rule


def _status(flag: Flag) -> str:
    if not flag.candidates:
        return _STATUS.get(flag.status, flag.status)
    unknown = ", ".join(flag.unknown_inputs)
    return f"{unknown} unknown: " + "; ".join(
        f"{_STATUS.get(str(flag.candidate_status(c)), 'not evaluable')} if {c.applies_when}"
        for c in flag.candidates)


def _doses(method: MethodPlan, sirt: SIRTPlan) -> tuple[WorksheetDose, ...]:
    doses = method.implied_doses
    assert doses is not None and sirt.target is not None
    flags = {_DOSE_OF_FLAG.get(f.code): f for f in method.flags}
    target, lung = sirt.target, sirt.lung_mass
    needs_tn = "not computed (needs T/N)"
    no_tumour = target.tumour_ml == 0
    rows = [
        ("Treated territory", "target_mean_gy", _num(target.volume_ml, "mL"), ""),
        ("Non-tumoral liver of the territory", "normal_liver_gy",
         _num(target.normal_ml, "mL"), needs_tn),
        ("Whole non-tumoral liver", "whole_normal_liver_gy",
         _num(target.whole_normal_ml, "mL"), needs_tn),
        ("Tumour in the territory", "tumour_gy", _num(target.tumour_ml, "mL"),
         "none (no tumour in the territory)" if no_tumour else needs_tn),
        ("Lungs, this session", "lung_gy",
         f"{_num(lung.kg, 'kg', 2)} ({lung.label or lung.source})", ""),
        ("Lungs, cumulative", "lung_cumulative_gy", "-", "not computed (prior dose not given)"),
    ]
    out = []
    for region, key, volume, why in rows:
        gy, flag = doses.dose(key), flags.get(key)
        out.append(WorksheetDose(
            region, volume, why if gy is None else _num(gy, "Gy"),
            "-" if flag is None else f"{flag.rule_id.replace('|', ' | ')}: {_threshold(flag)}",
            "-" if flag is None else _status(flag)))
    return tuple(out)


def _notes(method: MethodPlan) -> tuple[str, ...]:
    notes = [method.FORMULA]
    if isinstance(method, BSAMethod):
        rule = method.lung_shunt_rule
        reduction = None if rule is None else rule.reduction
        before = _num(None if rule is None else rule.activity_before_gbq, "GBq", 3)
        notes.append(f"BSA {_num(None if rule is None else rule.bsa_m2, 'm2', 3)}; activity "
                     f"before the lung-shunt rule {before}; lung-shunt reduction "
                     f"{_num(None if reduction is None else 100.0 * reduction, '%', 0)}")
    if isinstance(method, PartitionMethod):
        basis = None if method.normal_limit is None else method.normal_limit.basis
        limited = "-" if method.caps is None else method.caps.limited_by
        notes.append(f"Normal-liver limit: {basis}; activity limited by the {limited} limit")
        goal = None if method.caps is None else method.caps.tumour_target_dose_gy
        if method.caps is not None and goal is not None:
            reached = "reached" if method.caps.tumour_target_reached else "NOT reached"
            notes.append(f"Tumour dose goal {goal:g} Gy: {reached}")
    return tuple(n for n in notes if n)


def _missing(key: str, method: MethodPlan) -> str:
    title = METHOD_TITLES[key]
    if not method.applicable:
        return f"{title}: not applicable ({method.note or ''})"
    if isinstance(method, BSAMethod) and method.do_not_treat:
        return f"{title}: do not treat (lung shunt fraction above the resin rule's limit)"
    return f"{title}: needs {', '.join(method.missing) or '-'}"


def sirt_worksheet(sirt: SIRTPlan | None, inputs: Mapping[str, Any], plan_revision: int
                   ) -> SirtWorksheet | None:
    """The SIRT worksheet of a plan (None without a plan).

    Parameters
    ----------
    sirt : SIRTPlan or None
        The SIRT plan.
    inputs : mapping
        The ``inputs`` section of the result (effective planner inputs and their sources).
    plan_revision : int
        1 for the first plan, N for the N-th re-plan.

    Returns
    -------
    SirtWorksheet or None
        Computed methods (the device's convention first), or what each method is missing.
    """
    if sirt is None:
        return None
    territory = territory_text(sirt.target)
    convention = sirt.device_convention_method
    methods = dict(sorted(sirt.methods.items(), key=lambda item: item[0] != convention))
    computed, missing = [], []
    for key, method in methods.items():
        if key not in METHOD_TITLES:
            continue
        if method.injected_activity_gbq is None:
            missing.append(_missing(key, method))
            continue
        title = METHOD_TITLES[key] + (" - the device's convention" if key == convention else "")
        computed.append(WorksheetMethod(
            title, _notes(method), _activities(method, territory), _doses(method, sirt)))
    return SirtWorksheet(
        plan_revision=plan_revision, territory=territory,
        microspheres=sirt.microspheres or "not given",
        inputs=worksheet_inputs(inputs), methods=tuple(computed), missing=tuple(missing))
