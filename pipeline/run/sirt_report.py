"""The ``sirt`` section of a result as SR/PDF groups a reader cannot confuse.

Every figure of a SIRT plan gets a group of its own kind (``docs/sr-private-codes.md``):

- one group per input source (planner, site default, CT header) with the inputs it gave;
- per computed method: the activities at administration (TID 1502 time point
  ``administration <ISO date-time>``), the vial activity at calibration (time point
  ``calibration <ISO date-time>``, with the decay factor) when a calibration time was given,
  and one group per dose region: treated territory, its non-tumoral liver, the whole
  non-tumoral liver, the tumour in the territory, the lungs. Each region group has a finding
  type naming the region, finding sites (Couinaud segments, liver or lung), the SEG segments
  the figure was computed on, and the guideline checks of that dose with their rule codes.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from pipeline.encode import codes
from pipeline.encode.content import CodedEvaluation, NamedQuantity, QuantityGroup
from pipeline.encode.segments import ALL_LESIONS_LABEL, structure_tracking_id
from pipeline.quantify.advisory import Flag
from pipeline.quantify.sirt_plan import BSAMethod, MethodPlan, SIRTPlan
from pipeline.structures import CATALOGUE, COUINAUD_SEGMENTS, Code, Structure

METHODS = {"bsa": ("SIRT BSA method", codes.BSA_METHOD),
           "mird": ("SIRT MIRD", codes.MIRD_METHOD),
           "partition": ("SIRT partition", codes.PARTITION_METHOD)}
"""Method key -> (title prefix, method code)."""

_EXTENT = {"whole": codes.WHOLE_LIVER_TERRITORY, "right": codes.RIGHT_LOBE,
           "left": codes.LEFT_LOBE, "segments": codes.SEGMENTAL}
_SOURCES = {"planner": codes.FROM_PLANNER, "site default": codes.FROM_SITE_DEFAULT,
            "header": codes.FROM_HEADER}
_STATUS = {"met": codes.RULE_MET, "not_met": codes.RULE_NOT_MET,
           "not_evaluable": codes.RULE_NOT_EVALUABLE,
           "depends_on_unknown_input": codes.RULE_DEPENDS}
_UNKNOWN_INPUTS = {"pretreated": codes.PRETREATED, "bilirubin_mg_dl": codes.SERUM_BILIRUBIN,
                   "disease": codes.DISEASE}


def _q(concept: Code, value: Any, unit: str, label: str = "") -> NamedQuantity | None:
    return None if value is None else NamedQuantity(concept, float(value), codes.unit(unit),
                                                    label)


def _present(*items: NamedQuantity | None) -> tuple[NamedQuantity, ...]:
    return tuple(q for q in items if q is not None)


def rule_checks(flags: Sequence[Flag]) -> tuple[CodedEvaluation, ...]:
    """Guideline flags as coded evaluations: rule -> status.

    A flag whose threshold depends on an unknown input gives one evaluation per candidate
    rule (with that candidate's status) and one naming the unknown input.
    """
    out: list[CodedEvaluation] = []
    for f in flags:
        if not f.candidates:
            out.append(CodedEvaluation(codes.rule_code(f.rule_id), _STATUS[f.status],
                                       f"{f.rule_id}: {f.rule}: {f.status}"))
            continue
        for c in f.candidates:
            status = f.candidate_status(c) or "not_evaluable"
            out.append(CodedEvaluation(codes.rule_code(c.rule_id), _STATUS[status],
                                       f"{c.rule_id} (if {c.applies_when}): {status}"))
        out += [CodedEvaluation(codes.UNKNOWN_INPUT, _UNKNOWN_INPUTS[name],
                                f"unknown input: {name}")
                for name in f.unknown_inputs if name in _UNKNOWN_INPUTS]
    return tuple(out)


def _checks(method: MethodPlan, *flag_codes: str) -> tuple[CodedEvaluation, ...]:
    return rule_checks([f for f in method.flags if f.code in flag_codes])


def _input_groups(inputs: Mapping[str, Any]) -> list[QuantityGroup]:
    """One group per source of the planning inputs."""
    values = inputs.get("planner_effective") or {}
    source = inputs.get("planner_source") or {}
    patient = inputs.get("patient") or {}
    patient_source = inputs.get("patient_source") or {}
    lsf, residual = values.get("lung_shunt_fraction"), values.get("residual_fraction")
    numeric = {
        "lung_shunt_fraction": _q(codes.LUNG_SHUNT_FRACTION,
                                  None if lsf is None else 100.0 * lsf, "%"),
        "tumour_to_normal_ratio": _q(codes.TUMOUR_TO_NORMAL_RATIO,
                                     values.get("tumour_to_normal_ratio"), "{ratio}"),
        "target_dose_gy": _q(codes.PRESCRIBED_DOSE, values.get("target_dose_gy"), "Gy"),
        "tumour_target_dose_gy": _q(codes.TUMOUR_DOSE_GOAL,
                                    values.get("tumour_target_dose_gy"), "Gy"),
        "normal_liver_dose_limit_gy": _q(codes.NORMAL_LIVER_DOSE_CAP,
                                         values.get("normal_liver_dose_limit_gy"), "Gy"),
        "residual_fraction": _q(codes.VIAL_RESIDUAL_FRACTION,
                                None if residual is None else 100.0 * residual, "%"),
        "prior_lung_dose_gy": _q(codes.PRIOR_LUNG_DOSE, values.get("prior_lung_dose_gy"), "Gy"),
        "bilirubin_mg_dl": _q(codes.SERUM_BILIRUBIN, values.get("bilirubin_mg_dl"), "mg/dL"),
    }
    territory = str(values.get("territory") or "")
    coded_inputs = {
        "microspheres": None if values.get("microspheres") is None else CodedEvaluation(
            codes.MICROSPHERES, codes.RESIN if values["microspheres"] == "resin"
            else codes.GLASS),
        "territory": None if not territory else CodedEvaluation(
            codes.TERRITORY_EXTENT, _EXTENT[territory.split(":")[0]],
            f"Territory: {territory}"),
        "disease": None if values.get("disease") is None else CodedEvaluation(
            codes.DISEASE, codes.HCC if values["disease"] == "hcc" else codes.MCRC),
        "pretreated": None if values.get("pretreated") is None else CodedEvaluation(
            codes.PRETREATED, codes.YES if values["pretreated"] else codes.NO),
    }
    body = {"height_m": _q(codes.BODY_HEIGHT, patient.get("height_m"), "m"),
            "weight_kg": _q(codes.BODY_WEIGHT, patient.get("weight_kg"), "kg")}
    groups = []
    for name, code in _SOURCES.items():
        quantities = [q for k, q in numeric.items() if q is not None and source.get(k) == name]
        quantities += [q for k, q in body.items()
                       if q is not None and patient_source.get(k) == name]
        evaluations = [e for k, e in coded_inputs.items()
                       if e is not None and source.get(k) == name]
        if quantities or evaluations:
            groups.append(QuantityGroup(
                f"SIRT inputs: {name}", codes.SIRT_INPUTS, tuple(quantities),
                evaluations=(CodedEvaluation(codes.INPUT_SOURCE, code), *evaluations)))
    return groups


def _territory_name(territory: str | None) -> str:
    """Territory in words: "the whole liver", "the right lobe", "segments 2, 3"."""
    text = str(territory or "")
    if text.startswith("segments:"):
        return "Couinaud segments " + text.split(":", 1)[1].replace(",", ", ")
    return {"whole": "the whole liver", "right": "the right lobe",
            "left": "the left lobe"}.get(text, "the territory")


def _time(label: str, time: dt.datetime | None) -> str:
    return f"{label} {time.isoformat()}" if time is not None \
        else f"{label} (date and time not given)"


def _activity_groups(prefix: str, key: str, method: MethodPlan, bsa_formula: str,
                     territory: str) -> list[QuantityGroup]:
    act = method.activities
    assert act is not None
    _, method_code = METHODS[key]
    evaluations = [CodedEvaluation(codes.SIRT_METHOD, method_code)]
    extra: list[NamedQuantity | None] = []
    if isinstance(method, BSAMethod) and method.lung_shunt_rule is not None:
        if bsa_formula in codes.FORMULAS:
            evaluations.append(CodedEvaluation(codes.BSA_FORMULA, codes.FORMULAS[bsa_formula]))
        rule = method.lung_shunt_rule
        reduction = rule.reduction
        extra = [_q(codes.BODY_SURFACE_AREA, rule.bsa_m2, "m2"),
                 _q(codes.ACTIVITY_BEFORE_LSF_RULE, rule.activity_before_gbq, "GBq"),
                 _q(codes.LSF_REDUCTION, None if reduction is None else 100.0 * reduction, "%")]
    groups = [QuantityGroup(
        f"{prefix}: activity at administration", codes.SIRT_PLAN,
        _present(_q(codes.PLANNED_INJECTED_ACTIVITY, act.injected_at_administration_gbq,
                    "GBq", f"Activity to inject into {territory}, at administration"),
                 _q(codes.PLANNED_VIAL_ACTIVITY, act.vial_at_administration_gbq, "GBq",
                    f"Vial activity for {territory} incl. residual, at administration"),
                 *extra),
        notes=(method.FORMULA,),
        evaluations=tuple(evaluations),
        time_point=_time("administration", act.administration_time))]
    if act.vial_at_calibration_gbq is not None:
        groups.append(QuantityGroup(
            f"{prefix}: vial at calibration", codes.SIRT_PLAN,
            _present(_q(codes.PLANNED_VIAL_ACTIVITY, act.vial_at_calibration_gbq, "GBq",
                        f"Vial activity for {territory} at calibration time"),
                     _q(codes.DECAY_FACTOR, act.decay_factor, "{ratio}"),
                     _q(codes.DECAY_INTERVAL, act.hours_calibration_to_administration, "h")),
            notes=(f"A(t_cal) = A(t_adm) x exp(ln2 x (t_adm - t_cal) / {act.half_life_h:g} h)",),
            evaluations=(CodedEvaluation(codes.SIRT_METHOD, method_code),),
            time_point=_time("calibration", act.calibration_time)))
    return groups


def _region_groups(prefix: str, method: MethodPlan, sirt: SIRTPlan) -> list[QuantityGroup]:
    doses = method.implied_doses
    target = sirt.target
    assert doses is not None and target is not None
    segs = list(target.segments)
    whole = target.territory.kind == "whole"
    seg_sites = ((codes.LIVER,) if whole
                 else tuple(CATALOGUE[COUINAUD_SEGMENTS[s - 1]].type for s in segs))
    seg_ids = tuple(structure_tracking_id(COUINAUD_SEGMENTS[s - 1]) for s in segs)
    all_ids = tuple(structure_tracking_id(s) for s in COUINAUD_SEGMENTS)
    lung_mass = sirt.lung_mass
    dose = codes.MEAN_ABSORBED_DOSE
    specs = [
        ("treated territory", codes.TREATED_TERRITORY, seg_sites, seg_ids,
         (_q(dose, doses.target_mean_gy, "Gy", "Territory mean dose"),
          _q(codes.VOLUME, target.volume_ml, "mL", "Territory volume")),
         _checks(method, "SEGMENTECTOMY_DOSE")),
        ("normal liver of territory", codes.TERRITORY_NORMAL_LIVER, seg_sites, seg_ids,
         (_q(dose, doses.normal_liver_gy, "Gy", "Non-tumoral liver of territory"),
          _q(codes.VOLUME, target.normal_ml, "mL", "Non-tumoral volume")),
         _checks(method, "NORMAL_LIVER_DOSE")),
        ("whole normal liver", codes.WHOLE_NORMAL_LIVER, (codes.LIVER,), all_ids,
         (_q(dose, doses.whole_normal_liver_gy, "Gy", "Whole non-tumoral liver"),
          _q(codes.VOLUME, target.whole_normal_ml, "mL", "Non-tumoral liver")),
         _checks(method, "WHOLE_NORMAL_LIVER_DOSE")),
        ("tumour in territory", codes.TUMOUR_IN_TERRITORY, (codes.NEOPLASM, *seg_sites),
         (ALL_LESIONS_LABEL,),
         (_q(dose, doses.tumour_gy, "Gy", "Tumour mean dose"),
          _q(codes.VOLUME, target.tumour_ml, "mL", "Tumour volume in territory")),
         _checks(method, "TUMOUR_DOSE")),
        ("lungs", codes.LUNG, (codes.LUNG,),
         (structure_tracking_id(Structure.LUNG),) if lung_mass.source == "ct" else (),
         (_q(dose, doses.lung_gy, "Gy", "Lung mean dose"),
          _q(codes.CUMULATIVE_LUNG_DOSE, doses.lung_cumulative_gy, "Gy"),
          _q(codes.LUNG_MASS, lung_mass.kg, "kg", "Lung mass used")),
         (*_checks(method, "LUNG_DOSE_SESSION", "LUNG_DOSE_CUMULATIVE"),
          CodedEvaluation(codes.LUNG_MASS_SOURCE, codes.FROM_CT if lung_mass.source
                          == "ct" else codes.FROM_SITE_DEFAULT))),
    ]
    groups = []
    for name, concept, sites, seg_refs, quantities, checks in specs:
        present = _present(*quantities)
        if not any(q.concept == dose or q.concept == codes.CUMULATIVE_LUNG_DOSE
                   for q in present) and not checks:
            continue
        groups.append(QuantityGroup(f"{prefix}: {name}", concept, present,
                                    finding_sites=sites, segments=seg_refs,
                                    evaluations=checks))
    return groups


def sirt_groups(sirt: SIRTPlan, inputs: Mapping[str, Any], bsa_formula: str
                ) -> tuple[QuantityGroup, ...]:
    """The SIRT plan as SR/PDF groups (empty when no method computed an activity).

    Parameters
    ----------
    sirt : SIRTPlan
        The plan.
    inputs : mapping
        The ``inputs`` section of the result (effective planner inputs and their sources).
    bsa_formula : str
        Key of the BSA formula of the BSA method (``dubois`` or ``mosteller``).

    Returns
    -------
    tuple of QuantityGroup
        Input groups, then per computed method its activity and dose-region groups.
    """
    methods = {k: m for k, m in sirt.methods.items()
               if m.injected_activity_gbq is not None and k in METHODS}
    if not methods:
        return ()
    groups = _input_groups(inputs)
    territory = _territory_name(None if sirt.target is None else str(sirt.target.territory))
    for key, method in methods.items():
        prefix = METHODS[key][0]
        groups += _activity_groups(prefix, key, method, bsa_formula, territory)
        groups += _region_groups(prefix, method, sirt)
    return tuple(groups)
