"""Maps the stages' typed results onto the DICOM writers' report content.

The quantification returns :class:`~pipeline.quantify.quantify.QuantResult`; the writers take
typed content (:mod:`pipeline.encode.content`). This module is the one place that knows both.
A re-plan has only the earlier ``result.json``: :func:`recorded_content` reads it back into the
same types first.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from pydicom.dataset import Dataset

from pipeline.dosimetry.report_page import recorded_results
from pipeline.dosimetry.sr_content import dosimetry_groups
from pipeline.encode import codes
from pipeline.encode.content import (
    AlgorithmInfo,
    CodedEvaluation,
    FLRMeasurement,
    LesionMeasurement,
    NamedQuantity,
    QualityFlag,
    QuantityGroup,
    ReportContent,
    SeriesChoice,
    Severity,
    StructureMeasurement,
)
from pipeline.encode.segments import structure_tracking_id
from pipeline.quantify.burden import TumourBurden
from pipeline.quantify.flr import FLRPlan
from pipeline.quantify.flr_model import ModelFLR
from pipeline.quantify.lesions import Lesion
from pipeline.quantify.quality import Finding
from pipeline.quantify.quantify import QuantResult
from pipeline.run.sirt_report import rule_checks, sirt_groups
from pipeline.run.sirt_worksheet import sirt_worksheet
from pipeline.segment.confidence import Confidence
from pipeline.segment.model_folders import ModelInfo
from pipeline.structures import COUINAUD_SEGMENTS, PLANNING_REGIONS, Code, Structure


def algorithm_info(models: Sequence[ModelInfo]) -> AlgorithmInfo:
    """Describe the models of a segmentation (or of the engine's model list), for the writers.

    Parameters
    ----------
    models : sequence of ModelInfo
        The models used (one or more; a composition joins them).

    Returns
    -------
    AlgorithmInfo
        Names, versions and weights hashes joined with ``+`` for a composition, in stage
        order (each hash identifies one model's checkpoints).
    """
    return AlgorithmInfo(
        name="+".join(m.name for m in models),
        version="+".join(m.version for m in models),
        is_demo=any(m.is_demo for m in models),
        weights_sha256="+".join(m.weights_sha256 for m in models),
    )


def study_date(header: Dataset) -> dt.date | None:
    """StudyDate of a header as a date (None if absent or not a valid DA value)."""
    value = str(header.get("StudyDate") or "")
    try:
        return dt.datetime.strptime(value, "%Y%m%d").date()
    except ValueError:
        return None


def _quantity(concept: Code, value: Any, unit: str, label: str = "") -> NamedQuantity | None:
    if value is None:
        return None
    return NamedQuantity(concept=concept, value=float(value), unit=codes.unit(unit), label=label)


def _present(*items: NamedQuantity | None) -> tuple[NamedQuantity, ...]:
    return tuple(q for q in items if q is not None)


def structure_measurements(volumes_ml: Mapping[str, float | None],
                           incomplete: set[str]) -> tuple[StructureMeasurement, ...]:
    """Volumes of the segmented structures (withheld ones are left out).

    Parameters
    ----------
    volumes_ml : mapping of str to float or None
        The quantification's volume table, mL.
    incomplete : set of str
        Structure names that touch the field of view.

    Returns
    -------
    tuple of StructureMeasurement
        One per structure with a reported volume, in catalogue order.
    """
    out = []
    for structure in Structure:
        value = volumes_ml.get(structure.value)
        if value is None or (structure is Structure.METASTASIS and value == 0):
            continue
        out.append(StructureMeasurement(structure, float(value),
                                        incomplete_coverage=structure.value in incomplete))
    return tuple(out)


def lesion_measurements(lesions: Sequence[Lesion]) -> tuple[LesionMeasurement, ...]:
    """Per-lesion volume, diameters and Couinaud segment (hepatic lesions with figures)."""
    return tuple(
        LesionMeasurement(
            lesion_id=les.index, volume_ml=les.volume_ml,
            longest_diameter_mm=les.diameters.long_axis_mm,
            short_axis_mm=les.diameters.short_axis_mm,
            segment=COUINAUD_SEGMENTS[les.segment - 1] if les.segment else None)
        for les in lesions if les.hepatic and not les.withheld)


def tumour_burden(burden: TumourBurden) -> tuple[NamedQuantity, ...]:
    """Total tumour volume and tumour fraction of the liver."""
    return _present(
        _quantity(codes.TOTAL_TUMOUR_VOLUME, burden.total_tumour_volume_ml, "mL"),
        _quantity(codes.TUMOUR_FRACTION, burden.tumour_fraction_percent, "%"),
    )


def flr_measurements(flr: FLRPlan, constants_in_force: Mapping[str, Any]
                     ) -> tuple[FLRMeasurement, ...]:
    """One FLR measurement per standard or configured resection that was computed.

    Parameters
    ----------
    flr : FLRPlan
        The FLR section.
    constants_in_force : mapping
        The quantification's constants (``telv_formula``, ``bsa_formula_telv``).
    """
    notes = tuple(n for n in (flr.caudate_rule, flr.vessels, f"TELV: {flr.telv_formula}",
                              f"BSA: {flr.bsa_formula}",
                              "FLR % = FLR / (liver - total tumour volume) x 100; "
                              "FLR/BW = FLR[mL] / (W[kg] x 1000) x 100") if n)
    c = constants_in_force
    formulas = tuple(CodedEvaluation(name, codes.FORMULAS[str(c.get(key))])
                     for name, key in ((codes.TELV_FORMULA, "telv_formula"),
                                       (codes.BSA_FORMULA, "bsa_formula_telv"))
                     if str(c.get(key)) in codes.FORMULAS)
    return tuple(
        FLRMeasurement(
            resection=r.label or r.name,
            remnant=tuple(COUINAUD_SEGMENTS[s - 1] for s in r.remnant_segments),
            flr_ml=r.flr_ml, flr_percent=r.flr_percent_of_functional_liver,
            sflr_percent=r.sflr_percent, telv_ml=flr.telv_ml,
            flr_body_weight_percent=r.flr_body_weight_percent,
            caudate_included=r.caudate_in_remnant, notes=notes,
            evaluations=formulas + rule_checks(r.flags))
        for r in flr.resections
        if r.flr_ml is not None and r.flr_percent_of_functional_liver is not None)


def flr_model_groups(model: ModelFLR | None, telv_ml: float | None
                     ) -> tuple[QuantityGroup, ...]:
    """The learned FLR model's figures (on its remnant segment), its resected region's
    volume (on that segment), then one group per segment-rule comparison.

    Parameters
    ----------
    model : ModelFLR or None
        ``flr.model`` (None: no learned FLR model; no groups).
    telv_ml : float or None
        The TELV its sFLR was computed with, mL.

    Returns
    -------
    tuple of QuantityGroup
        Each at finding site Liver; the first two are ROI groups on the region segments,
        the comparisons cite the remnant segment as the source of their figures.
    """
    if model is None:
        return ()
    remnant, resected = (structure_tracking_id(s) for s in PLANNING_REGIONS)
    main = QuantityGroup(
        title=f"FLR learned model {model.model}"[:64], concept=codes.FLR_MODEL_ASSESSMENT,
        quantities=_present(
            _quantity(codes.FUTURE_LIVER_REMNANT, model.flr_ml, "mL"),
            _quantity(codes.FLR_REGION_VOLUME, model.measured.remnant_ml, "mL"),
            _quantity(codes.FLR_REGION_TUMOUR, model.measured.remnant_tumour_ml, "mL"),
            _quantity(codes.FLR_PERCENT, model.flr_percent_of_functional_liver, "%"),
            _quantity(codes.STANDARDISED_FLR, model.sflr_percent, "%"),
            _quantity(codes.TOTAL_ESTIMATED_LIVER_VOLUME, telv_ml, "mL"),
            _quantity(codes.FLR_BODY_WEIGHT_RATIO, model.flr_body_weight_percent, "%")),
        notes=("FLR = the model's remnant region minus the tumour inside it; sFLR, FLR % and "
               "FLR/BW as for the segment rule.", *(f"Not computed: {m}" for m in model.missing)),
        finding_sites=(codes.LIVER,), segments=(remnant,), roi_segment=remnant,
        evaluations=rule_checks(model.flags))
    removed = () if model.measured.resected_ml is None else (QuantityGroup(
        title=f"Resected region, learned model {model.model}"[:64],
        concept=codes.FLR_MODEL_ASSESSMENT,
        quantities=_present(
            _quantity(codes.RESECTED_REGION_VOLUME, model.measured.resected_ml, "mL")),
        finding_sites=(codes.LIVER,), segments=(resected,), roi_segment=resected),)
    comparisons = tuple(
        QuantityGroup(
            title=f"FLR model vs {c.label}{' (planned)' if c.planned else ''}"[:64],
            concept=codes.FLR_MODEL_ASSESSMENT,
            quantities=_present(
                _quantity(codes.SEGMENT_RULE_FLR, c.segment_rule_flr_ml, "mL"),
                _quantity(codes.FLR_DIFFERENCE, c.difference_ml, "mL"),
                _quantity(codes.FLR_DIFFERENCE_PERCENT, c.difference_percent, "%")),
            finding_sites=(codes.LIVER,), segments=(remnant,))
        for c in model.comparisons)
    return (main, *removed, *comparisons)


def constants(c: Mapping[str, Any]) -> tuple[NamedQuantity, ...]:
    """The dosimetry constants in force (echoed in every report).

    The lung mass is not among them: the one a plan used (CT or site default) is in its
    lungs group with its source.
    """
    return _present(
        _quantity(codes.Y90_DOSE_CONSTANT, c.get("energy_gy_kg_per_gbq"), "Gy.kg/GBq"),
        _quantity(codes.LIVER_DENSITY, c.get("liver_density_g_ml"), "g/mL"),
        _quantity(codes.Y90_HALF_LIFE, c.get("half_life_h"), "h"),
    )


SR_FLAG_CODES = {
    "INCOMPLETE_COVERAGE": "INCOMPLETE",
    "SLICE_THICKNESS_UNKNOWN": "THICKNESS_UNKN",
    "PATIENT_HEIGHT_MISSING": "HEIGHT_MISSING",
    "PATIENT_WEIGHT_MISSING": "WEIGHT_MISSING",
    "PATIENT_HEIGHT_IMPLAUSIBLE": "HEIGHT_IMPLAUS",
    "PATIENT_WEIGHT_IMPLAUSIBLE": "WEIGHT_IMPLAUS",
}
"""Warning codes longer than a Code Value (SH, 16 characters) -> their SR flag code
(``docs/sr-private-codes.md``); shorter codes are used as they are."""


def sr_flag_code(code: str) -> str:
    """The SR flag code (at most 16 characters) of a ``result.json`` warning code."""
    return SR_FLAG_CODES.get(code, code)[:16]


def quality_flags(warnings: Sequence[Finding]) -> tuple[QualityFlag, ...]:
    """Warnings of every stage as report flags (withheld figures are errors)."""
    return tuple(
        QualityFlag(code=sr_flag_code(w.code), message=w.message,
                    severity=Severity.ERROR if w.action == "withheld" else Severity.WARNING)
        for w in warnings)


def series_choice(series: Mapping[str, Any], description: str) -> SeriesChoice:
    """The analysed series and why, from the selection's ``result.json`` section.

    Parameters
    ----------
    series : mapping
        ``SelectionResult.to_dict()`` (chosen UID, phase, notes).
    description : str
        SeriesDescription of the analysed series.
    """
    phase = series.get("phase") or {}
    reasons = [f"phase: {phase.get('phase')} (confidence {phase.get('confidence')})"] \
        if phase else []
    reasons += list(series.get("notes") or [])
    return SeriesChoice(str(series.get("chosen_series_instance_uid")), description,
                        tuple(reasons))


def report_content(quant: QuantResult, series: SeriesChoice, algorithm: AlgorithmInfo,
                   confidence: Confidence | None, warnings: Sequence[Finding],
                   incomplete: set[str]) -> ReportContent:
    """Build the writers' content of a measured study from the stages' results.

    Parameters
    ----------
    quant : QuantResult
        The quantification (volumes, lesions, tumour burden, FLR, SIRT, constants).
    series : SeriesChoice
        The analysed series.
    algorithm : AlgorithmInfo
        The segmentation models.
    confidence : Confidence or None
        The segmentation confidence (None: not recorded).
    warnings : sequence of Finding
        Warnings of every stage (the quantification's among them).
    incomplete : set of str
        Structure names with incomplete coverage.

    Returns
    -------
    ReportContent
        Everything the SEG/SR/PDF writers show.
    """
    return ReportContent(
        series=series, algorithm=algorithm,
        structures=structure_measurements(quant.volumes_ml, incomplete),
        lesions=lesion_measurements(quant.lesions),
        tumour_burden=tumour_burden(quant.tumour_burden),
        flr=flr_measurements(quant.flr, quant.constants),
        flr_model=flr_model_groups(quant.flr_model, quant.flr.telv_ml),
        sirt=sirt_groups(quant.sirt, quant.inputs,
                         str(quant.constants.get("bsa_formula_sirt") or "")),
        constants=constants(quant.constants),
        confidence=confidence,
        flags=quality_flags(warnings),
        worksheet=sirt_worksheet(quant.sirt, quant.inputs, quant.plan_revision),
    )


def recorded_content(result: Mapping[str, Any], series_description: str) -> ReportContent:
    """The writers' content of a measured study from its ``result.json`` alone (a re-plan:
    the models and confidence as the first run recorded them)."""
    seg = result.get("segmentation") or {}
    models = seg.get("models") or []
    algorithm = AlgorithmInfo(
        name="+".join(str(m["name"]) for m in models),
        version="+".join(str(m["version"]) for m in models),
        is_demo=bool(seg.get("demo")),
        weights_sha256="+".join(str(m.get("weights_sha256") or "") for m in models))
    conf = result.get("confidence")
    quant = QuantResult.from_dict(result)
    content = report_content(quant, series_choice(result.get("series") or {},
                                                  series_description),
                             algorithm, Confidence.from_dict(conf) if conf else None,
                             quant.warnings, set(result.get("incomplete_coverage") or []))
    return dataclasses.replace(content, dosimetry=recorded_dose_groups(result))


def recorded_dose_groups(result: Mapping[str, Any]) -> tuple[QuantityGroup, ...]:
    """The SR dose groups of a ``result.json``'s ``dosimetry`` section (MAA prediction, then
    the Y-90 PET's ``post_treatment``); empty when nothing was measured."""
    groups: tuple[QuantityGroup, ...] = ()
    for measured, source in recorded_results(result.get("dosimetry") or {}):
        groups += dosimetry_groups(measured, source)
    return groups
