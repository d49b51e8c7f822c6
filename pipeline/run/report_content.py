"""Maps the stages' results onto the DICOM writers' report content.

The quantification stage speaks JSON (``docs/quantification.md``); the writers take typed
content (:mod:`pipeline.encode.content`). This module is the one place that knows both.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from pydicom.dataset import Dataset

from pipeline.encode import codes
from pipeline.encode.content import (
    AlgorithmInfo,
    CodedEvaluation,
    Confidence,
    FLRMeasurement,
    LesionMeasurement,
    NamedQuantity,
    QualityFlag,
    ReportContent,
    SeriesChoice,
    Severity,
    StructureMeasurement,
)
from pipeline.run.sirt_report import rule_checks, sirt_groups
from pipeline.run.sirt_worksheet import sirt_worksheet
from pipeline.segment.result import SegmentationResult
from pipeline.structures import COUINAUD_SEGMENTS, Code, Structure


def algorithm_info(segmentation: SegmentationResult) -> AlgorithmInfo:
    """Describe the models that produced a segmentation, for the writers.

    Parameters
    ----------
    segmentation : SegmentationResult
        The engine's result (one or more models).

    Returns
    -------
    AlgorithmInfo
        Names, versions and weights hashes joined with ``+`` for a composition, in stage
        order (each hash identifies one model's checkpoints).
    """
    models = segmentation.models
    return AlgorithmInfo(
        name="+".join(m.name for m in models),
        version="+".join(m.version for m in models),
        is_demo=segmentation.is_demo,
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


def structure_measurements(quant: Mapping[str, Any],
                           incomplete: set[str]) -> tuple[StructureMeasurement, ...]:
    """Volumes of the segmented structures (withheld ones are left out).

    Parameters
    ----------
    quant : mapping
        The quantification result (``volumes_ml``).
    incomplete : set of str
        Structure names that touch the field of view.

    Returns
    -------
    tuple of StructureMeasurement
        One per structure with a reported volume, in catalogue order.
    """
    volumes = quant.get("volumes_ml", {})
    out = []
    for structure in Structure:
        value = volumes.get(structure.value)
        if value is None or (structure is Structure.METASTASIS and value == 0):
            continue
        out.append(StructureMeasurement(structure, float(value),
                                        incomplete_coverage=structure.value in incomplete))
    return tuple(out)


def lesion_measurements(quant: Mapping[str, Any]) -> tuple[LesionMeasurement, ...]:
    """Per-lesion volume, diameters and Couinaud segment (hepatic lesions only)."""
    out = []
    for lesion in quant.get("lesions") or []:
        if lesion.get("volume_ml") is None or not lesion.get("hepatic", True):
            continue
        segment = lesion.get("segment")
        out.append(LesionMeasurement(
            lesion_id=int(lesion["index"]),
            volume_ml=float(lesion["volume_ml"]),
            longest_diameter_mm=lesion.get("long_axis_mm"),
            short_axis_mm=lesion.get("short_axis_mm"),
            segment=COUINAUD_SEGMENTS[segment - 1] if segment else None,
        ))
    return tuple(out)


def tumour_burden(quant: Mapping[str, Any]) -> tuple[NamedQuantity, ...]:
    """Total tumour volume and tumour fraction of the liver."""
    burden = quant.get("tumour_burden") or {}
    return _present(
        _quantity(codes.TOTAL_TUMOUR_VOLUME, burden.get("total_tumour_volume_ml"), "mL"),
        _quantity(codes.TUMOUR_FRACTION, burden.get("tumour_fraction_percent"), "%"),
    )


def flr_measurements(quant: Mapping[str, Any]) -> tuple[FLRMeasurement, ...]:
    """One FLR measurement per standard or configured resection that was computed."""
    flr = quant.get("flr") or {}
    notes = tuple(str(n) for n in (flr.get("caudate_rule"), flr.get("vessels"),
                                   f"TELV: {flr.get('telv_formula')}",
                                   f"BSA: {flr.get('bsa_formula')}",
                                   "FLR % = FLR / (liver - total tumour volume) x 100; "
                                   "FLR/BW = FLR[mL] / (W[kg] x 1000) x 100") if n)
    c = quant.get("constants") or {}
    formulas = tuple(CodedEvaluation(name, codes.FORMULAS[str(c.get(key))])
                     for name, key in ((codes.TELV_FORMULA, "telv_formula"),
                                       (codes.BSA_FORMULA, "bsa_formula_telv"))
                     if str(c.get(key)) in codes.FORMULAS)
    out = []
    for r in flr.get("resections") or []:
        if r.get("flr_ml") is None or r.get("flr_percent_of_functional_liver") is None:
            continue
        out.append(FLRMeasurement(
            resection=str(r.get("label") or r["name"]),
            remnant=tuple(COUINAUD_SEGMENTS[int(s) - 1] for s in r.get("remnant_segments", [])),
            flr_ml=float(r["flr_ml"]),
            flr_percent=float(r["flr_percent_of_functional_liver"]),
            sflr_percent=r.get("sflr_percent"),
            telv_ml=flr.get("telv_ml"),
            flr_body_weight_percent=r.get("flr_body_weight_percent"),
            caudate_included=bool(r.get("caudate_in_remnant", True)),
            notes=notes,
            evaluations=formulas + rule_checks(list(r.get("flags") or [])),
        ))
    return tuple(out)


def constants(quant: Mapping[str, Any]) -> tuple[NamedQuantity, ...]:
    """The dosimetry constants in force (echoed in every report).

    The lung mass is not among them: the one a plan used (CT or site default) is in its
    lungs group with its source.
    """
    c = quant.get("constants") or {}
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


def quality_flags(warnings: list[dict[str, Any]]) -> tuple[QualityFlag, ...]:
    """Warnings of every stage as report flags (withheld figures are errors)."""
    return tuple(
        QualityFlag(code=sr_flag_code(str(w.get("code", "WARNING"))),
                    message=str(w.get("message", "")),
                    severity=Severity.ERROR if w.get("action") == "withheld"
                    else Severity.WARNING)
        for w in warnings)


def report_content(result: Mapping[str, Any], segmentation: SegmentationResult,
                   series_description: str) -> ReportContent:
    """Build the writers' content of a measured study from its ``result.json`` data.

    Parameters
    ----------
    result : mapping
        The study result (keys ``series``, ``volumes_ml``, ``lesions``, ``flr``, ``sirt``,
        ``constants``, ``warnings``, ``coverage``).
    segmentation : SegmentationResult
        The segmentation (models and confidence).
    series_description : str
        SeriesDescription of the analysed series.

    Returns
    -------
    ReportContent
        Everything the SEG/SR/PDF writers show.
    """
    conf = segmentation.confidence
    confidence = Confidence(
        score=conf.score, review_required=conf.review_recommended,
        per_structure={s: c.fold_dice for s, c in conf.per_structure.items()
                       if c.fold_dice is not None},
        method=CONFIDENCE_METHOD,
    )
    return content_from_result(result, algorithm_info(segmentation), confidence,
                               series_description)


CONFIDENCE_METHOD = "mean pairwise Dice between folds, tumour volume and slice thickness terms"


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
    conf = result.get("confidence") or {}
    confidence = Confidence(
        score=conf.get("score"), review_required=bool(conf.get("review_recommended")),
        per_structure={Structure(k): float(v["fold_dice"])
                       for k, v in (conf.get("per_structure") or {}).items()
                       if v.get("fold_dice") is not None},
        method=CONFIDENCE_METHOD) if conf else None
    return content_from_result(result, algorithm, confidence, series_description)


def content_from_result(result: Mapping[str, Any], algorithm: AlgorithmInfo,
                        confidence: Confidence | None, series_description: str
                        ) -> ReportContent:
    """The writers' content from the result data, the algorithm and the confidence."""
    series = result.get("series") or {}
    phase = series.get("phase") or {}
    reasons = [f"phase: {phase.get('phase')} (confidence {phase.get('confidence')})"] \
        if phase else []
    reasons += list(series.get("notes") or [])
    incomplete = set(result.get("incomplete_coverage") or [])
    return ReportContent(
        series=SeriesChoice(str(series.get("chosen_series_instance_uid")), series_description,
                            tuple(reasons)),
        algorithm=algorithm,
        structures=structure_measurements(result, incomplete),
        lesions=lesion_measurements(result),
        tumour_burden=tumour_burden(result),
        flr=flr_measurements(result),
        sirt=sirt_groups(result),
        constants=constants(result),
        confidence=confidence,
        flags=quality_flags(list(result.get("warnings") or [])),
        worksheet=sirt_worksheet(result),
    )
