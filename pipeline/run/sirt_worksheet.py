"""The ``sirt`` and ``inputs`` sections of a result as the PDF's SIRT worksheet.

Reads the result document (``docs/result-json.md``) and formats every figure with its unit:
inputs with their sources, per computed method the activities with their time references,
the mean dose per region and the guideline limits with their rules; when no method computed
an activity, the inputs each method is missing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pipeline.encode.worksheet import (
    SirtWorksheet,
    WorksheetActivity,
    WorksheetDose,
    WorksheetInput,
    WorksheetMethod,
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


def territory_text(target: Mapping[str, Any] | None) -> str:
    """The treated territory in words with its Couinaud segments ("not given" without)."""
    if not target:
        return "not given"
    kind = str(target.get("territory") or "")
    segments = ", ".join(str(s) for s in target.get("segments") or [])
    if kind.startswith("segments"):
        return f"Couinaud segments {segments}"
    name = _TERRITORIES.get(kind, kind)
    return f"{name} (Couinaud {segments})" if segments else name


def _at(label: str, iso: str | None) -> str:
    return f"at {label} {iso}" if iso else f"at {label} (date and time not given)"


def _activities(method: Mapping[str, Any], territory: str) -> tuple[WorksheetActivity, ...]:
    act = method.get("activities") or {}
    at_admin = _at("administration", act.get("administration_time"))
    out = [WorksheetActivity(f"Activity to inject into {territory}",
                             float(act["injected_at_administration_gbq"]), at_admin)]
    if act.get("vial_at_administration_gbq") is not None:
        out.append(WorksheetActivity("Vial activity incl. residual",
                                     float(act["vial_at_administration_gbq"]), at_admin))
    if act.get("vial_at_calibration_gbq") is not None:
        out.append(WorksheetActivity(
            "Vial activity at its calibration", float(act["vial_at_calibration_gbq"]),
            _at("calibration", act.get("calibration_time")),
            f"decay factor {act['decay_factor']:.4f} over "
            f"{act['hours_calibration_to_administration']:.1f} h "
            f"(half-life {act['half_life_h']:g} h)"))
    elif act.get("missing"):
        out[-1] = WorksheetActivity(out[-1].label, out[-1].gbq, out[-1].reference,
                                    "no activity at calibration: needs "
                                    + ", ".join(act["missing"]))
    return tuple(out)


_DOSE_OF_FLAG = {"SEGMENTECTOMY_DOSE": "target_mean_gy", "NORMAL_LIVER_DOSE": "normal_liver_gy",
                 "WHOLE_NORMAL_LIVER_DOSE": "whole_normal_liver_gy", "TUMOUR_DOSE": "tumour_gy",
                 "LUNG_DOSE_SESSION": "lung_gy", "LUNG_DOSE_CUMULATIVE": "lung_cumulative_gy"}
"""Guideline flag code -> the key of the dose it checks (``pipeline.quantify.limits``)."""


def _threshold(flag: Mapping[str, Any]) -> str:
    """The rule without its region: ``<= 40 Gy (unilobar, pretreated or not)``."""
    rule, comparison = str(flag["rule"]), f" {flag['comparison']} "
    return rule[rule.index(comparison) + 1:] if comparison in rule else rule


def _status(flag: Mapping[str, Any]) -> str:
    candidates = flag.get("candidates") or []
    if not candidates:
        return _STATUS.get(str(flag["status"]), str(flag["status"]))
    unknown = ", ".join(flag.get("unknown_inputs") or [])
    return f"{unknown} unknown: " + "; ".join(
        f"{_STATUS.get(str(c['status']), 'not evaluable')} if {c['applies_when']}"
        for c in candidates)


def _doses(method: Mapping[str, Any], sirt: Mapping[str, Any]) -> tuple[WorksheetDose, ...]:
    doses = method.get("implied_doses") or {}
    flags = {_DOSE_OF_FLAG.get(str(f["code"])): f for f in method.get("flags") or []}
    target = sirt.get("target") or {}
    lung = sirt.get("lung_mass") or {}
    needs_tn = "not computed (needs T/N)"
    no_tumour = target.get("tumour_ml") == 0
    rows = [
        ("Treated territory", "target_mean_gy", _num(target.get("volume_ml"), "mL"), ""),
        ("Non-tumoral liver of the territory", "normal_liver_gy",
         _num(target.get("normal_ml"), "mL"), needs_tn),
        ("Whole non-tumoral liver", "whole_normal_liver_gy",
         _num(target.get("whole_normal_liver_ml"), "mL"), needs_tn),
        ("Tumour in the territory", "tumour_gy", _num(target.get("tumour_ml"), "mL"),
         "none (no tumour in the territory)" if no_tumour else needs_tn),
        ("Lungs, this session", "lung_gy",
         f"{_num(lung.get('kg'), 'kg', 2)} ({lung.get('label') or lung.get('source')})", ""),
        ("Lungs, cumulative", "lung_cumulative_gy", "-", "not computed (prior dose not given)"),
    ]
    out = []
    for region, key, volume, why in rows:
        gy, flag = doses.get(key), flags.get(key)
        out.append(WorksheetDose(
            region, volume, why if gy is None else _num(gy, "Gy"),
            "-" if flag is None else f"{flag['rule_id'].replace('|', ' | ')}: {_threshold(flag)}",
            "-" if flag is None else _status(flag)))
    return tuple(out)


def _notes(key: str, method: Mapping[str, Any]) -> tuple[str, ...]:
    notes = [str(method.get("formula") or "")]
    if key == "bsa":
        reduction = method.get("lung_shunt_reduction")
        before = _num(method.get("activity_before_lung_shunt_rule_gbq"), "GBq", 3)
        notes.append(f"BSA {_num(method.get('bsa_m2'), 'm2', 3)}; activity before the "
                     f"lung-shunt rule {before}; lung-shunt reduction "
                     f"{_num(None if reduction is None else 100.0 * reduction, '%', 0)}")
    if key == "partition":
        notes.append(f"Normal-liver limit: {method.get('normal_liver_limit_basis')}; "
                     f"activity limited by the {method.get('limited_by', '-')} limit")
        if method.get("tumour_target_dose_gy") is not None:
            reached = "reached" if method.get("tumour_target_reached") else "NOT reached"
            notes.append(f"Tumour dose goal {method['tumour_target_dose_gy']:g} Gy: {reached}")
    return tuple(n for n in notes if n)


def _missing(key: str, method: Mapping[str, Any]) -> str:
    title = METHOD_TITLES[key]
    if not method.get("applicable", True):
        return f"{title}: not applicable ({method.get('note', '')})"
    if method.get("do_not_treat"):
        return f"{title}: do not treat (lung shunt fraction above the resin rule's limit)"
    return f"{title}: needs {', '.join(method.get('missing') or []) or '-'}"


def sirt_worksheet(result: Mapping[str, Any]) -> SirtWorksheet | None:
    """The SIRT worksheet of a result document (None without a ``sirt`` section).

    Parameters
    ----------
    result : mapping
        A result document (keys ``sirt``, ``inputs``, ``plan_revision``).

    Returns
    -------
    SirtWorksheet or None
        Computed methods (the device's convention first), or what each method is missing.
    """
    sirt = result.get("sirt")
    if not sirt:
        return None
    target = sirt.get("target")
    territory = territory_text(target)
    convention = sirt.get("device_convention_method")
    methods = dict(sorted((sirt.get("methods") or {}).items(),
                          key=lambda item: item[0] != convention))
    computed, missing = [], []
    for key, method in methods.items():
        if key not in METHOD_TITLES:
            continue
        if method.get("injected_activity_gbq") is None:
            missing.append(_missing(key, method))
            continue
        title = METHOD_TITLES[key] + (" - the device's convention" if key == convention else "")
        computed.append(WorksheetMethod(
            title, _notes(key, method),
            _activities(method, territory),
            _doses(method, sirt)))
    return SirtWorksheet(
        plan_revision=int(result.get("plan_revision") or 1), territory=territory,
        microspheres=str(sirt.get("microspheres") or "not given"),
        inputs=worksheet_inputs(result.get("inputs") or {}), methods=tuple(computed),
        missing=tuple(missing))
