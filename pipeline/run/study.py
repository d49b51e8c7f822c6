"""Runs the whole pipeline on one study's files, with no network.

select series -> volume + QA -> segment -> coverage -> quantify -> SEG + SR + PDF. Each stage
is timed and reported through a callback (the node records it in the audit DB). A study
that cannot be measured is *rejected* with a reason a person understands; it still gets a
``result.json`` and, where configured, a short SR and PDF saying why.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

import numpy as np
import pydicom
from pydicom import Dataset
from pydicom.uid import generate_uid

from pipeline import __name__ as _pkg
from pipeline.config import PipelineConfig
from pipeline.dosimetry.config import DVH_FILE, RTDOSE_FILES
from pipeline.durable import atomic_write
from pipeline.encode.collector import paused_collector
from pipeline.encode.content import (
    QualityFlag,
    RejectionContent,
    ReportContent,
    SegmentationContent,
    SeriesChoice,
)
from pipeline.encode.pdf import build_encapsulated_pdf, build_pdf, build_rejection_pdf
from pipeline.encode.sanitise import SourceHeaderError, sanitised
from pipeline.encode.seg import build_seg
from pipeline.encode.source import selected_source_headers, source_image
from pipeline.encode.sr import build_rejection_sr, build_sr
from pipeline.encode.writer import file_bytes
from pipeline.errors import InputDataError
from pipeline.heap import release_free_memory
from pipeline.quantify.inputs import PatientInfo, PlannerInputs, QualityContext
from pipeline.quantify.quality import Finding
from pipeline.quantify.quantify import QuantResult, quantify
from pipeline.run.dosimetry import DosimetryStage, run_dosimetry
from pipeline.run.report_content import (
    algorithm_info,
    report_content,
    series_choice,
    study_date,
)
from pipeline.segment.engine import SegmentationEngine
from pipeline.segment.result import SegmentationResult
from pipeline.select.coverage import coverage_after_segmentation
from pipeline.select.emission import is_emission
from pipeline.select.selector import SelectionResult, select_series
from pipeline.structures import liver_labels
from pipeline.volume import CTVolume

RESULT_SCHEMA = "dicomnode.result/1"
"""Schema name of ``result.json`` (documented in ``docs/result-json.md``)."""

StageCallback = Callable[[str, float, str], None]
"""Called after each stage with (stage name, duration in s, short message)."""


class StudyStatus(StrEnum):
    """How a study run ended (a program failure raises instead)."""

    SUCCEEDED = "succeeded"
    REJECTED = "rejected"


@dataclass(frozen=True)
class StudyResult:
    """What :func:`run_study` produced.

    Parameters
    ----------
    status : StudyStatus
        Measured, or rejected with a reason.
    reason : str or None
        Why the study was rejected (None when measured).
    result : dict
        The content of ``result.json``.
    output_paths : list[Path]
        DICOM outputs written (SEG, SR, Encapsulated PDF), in sending order.
    """

    status: StudyStatus
    reason: str | None
    result: dict[str, Any]
    output_paths: list[Path] = field(default_factory=list)


class _Stages:
    """Times stages and hands each to the callback."""

    def __init__(self, callback: StageCallback | None) -> None:
        self.timings: dict[str, float] = {}
        self._callback = callback

    @contextmanager
    def stage(self, name: str) -> Iterator[list[str]]:
        message: list[str] = []
        start = time.perf_counter()
        yield message
        elapsed = time.perf_counter() - start
        release_free_memory()  # the stage's freed temporaries, before the next stage
        self.timings[name] = round(elapsed, 3)
        if self._callback is not None:
            self._callback(name, elapsed, "; ".join(message))


def output_uid(seed: str, kind: str) -> str:
    """A deterministic UID for an output, so that a rerun of the same job replaces rather
    than duplicates its outputs at the destination.

    Parameters
    ----------
    seed : str
        Identity of the run (e.g. job id and chosen series).
    kind : str
        Which UID (``seg.series``, ``seg.sop``, ...).

    Returns
    -------
    str
        A UID under pydicom's root derived from ``seed`` and ``kind``.
    """
    return str(generate_uid(entropy_srcs=[_pkg, seed, kind]))


def _write_dicom(ds: Dataset, path: Path) -> Path:
    return atomic_write(path, file_bytes(ds))


def write_result_json(result: dict[str, Any], out_dir: Path) -> Path:
    """Write ``out_dir/result.json`` atomically and durably (temp file, fsync, rename).

    Parameters
    ----------
    result : dict
        JSON-able result.
    out_dir : Path
        Output folder (created if needed).

    Returns
    -------
    Path
        The written file.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    text = json.dumps(result, indent=2, sort_keys=False, allow_nan=False)
    return atomic_write(out_dir / "result.json", text.encode("utf-8"))


def _float_attr(ds: Dataset, keyword: str) -> float | None:
    value = ds.get(keyword)
    try:
        return float(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


def _patient(header: Dataset) -> PatientInfo:
    return PatientInfo(height_m=_float_attr(header, "PatientSize"),
                       weight_kg=_float_attr(header, "PatientWeight"))


def _incomplete_coverage(seg: SegmentationResult) -> list[str]:
    table = np.zeros(max([int(seg.labelmap.max(initial=0)), *seg.labels]) + 1, np.uint8)
    table[list(liver_labels(seg.labels))] = 1
    return coverage_after_segmentation(table[seg.labelmap], {"liver": 1})  # one uint8 copy


def _any_header(paths: Sequence[Path]) -> Dataset | None:
    """The first file's header that can be the source of an output (it names the patient and
    the study the rejection report joins)."""
    for path in paths:
        try:
            return sanitised(pydicom.dcmread(path, stop_before_pixels=True))
        except (OSError, ValueError, EOFError, pydicom.errors.InvalidDicomError):
            continue  # SourceHeaderError is a ValueError
    return None


def _assumption_warnings(selection: SelectionResult) -> list[Finding]:
    """Warnings for what was assumed while reading the headers."""
    return [Finding("HEADER_ASSUMED", text, [], "note", "select")
            for text in selection.assumptions]


def _report_failure(kind: str, exc: Exception) -> dict[str, Any]:
    """``result.json`` warning for a rejection report that could not be written."""
    return {"code": "REPORT_NOT_WRITTEN",
            "message": f"rejection {kind} not written: {type(exc).__name__}: {exc}",
            "action": "withheld", "affects": [kind], "stage": "encode",
            "exception": type(exc).__name__}


def _expand(paths: Iterable[Path]) -> list[Path]:
    files: list[Path] = []
    for p in paths:
        files.extend(sorted(q for q in p.rglob("*") if q.is_file()) if p.is_dir() else [p])
    return files


def _has_emission(files: Sequence[Path]) -> bool:
    """Whether any readable file is an NM or PET image."""
    for path in files:
        try:
            if is_emission(pydicom.dcmread(path, stop_before_pixels=True,
                                           specific_tags=["SOPClassUID", "Modality"])):
                return True
        except (OSError, ValueError, EOFError, pydicom.errors.InvalidDicomError):
            continue
    return False


def _base_result(selection: SelectionResult, status: StudyStatus,
                 reason: str | None) -> dict[str, Any]:
    return {
        "schema": RESULT_SCHEMA,
        "status": status.value,
        "reason": reason,
        "series": selection.to_dict(),
        "volumes_ml": {},
        "flr": None,
        "sirt": None,
        "confidence": None,
        "dosimetry": None,
        "warnings": [],
    }


def _write_rejection_reports(selection: SelectionResult, reason: str, header: Dataset,
                             out_dir: Path, config: PipelineConfig,
                             engine: SegmentationEngine, seed: str
                             ) -> tuple[list[Path], list[dict[str, Any]]]:
    """Write the rejection SR and PDF; an error writing either is returned as a warning,
    never raised, so that a rejected study always ends with its ``result.json``."""
    outputs: list[Path] = []
    failures: list[dict[str, Any]] = []
    algorithm = algorithm_info(engine.verify())
    rejection = RejectionContent(
        reasons=(QualityFlag(code="STUDY_REJECTED", message=reason),),
        series_considered=tuple(
            SeriesChoice(r.series_instance_uid, r.series_description or "", tuple(r.reasons))
            for r in selection.ranking))
    try:
        sr = build_rejection_sr([header], rejection, algorithm, config.encode,
                                series_instance_uid=output_uid(seed, "sr.series"),
                                sop_instance_uid=output_uid(seed, "sr.sop"))
        outputs.append(_write_dicom(sr, out_dir / "sr.dcm"))
    except Exception as exc:  # any failure of the report is recorded, the study still ends
        failures.append(_report_failure("sr", exc))
    if not config.encode.write_pdf:
        return outputs, failures
    try:
        pdf = build_rejection_pdf(header, rejection, algorithm)
        enc = build_encapsulated_pdf(pdf, header, algorithm, config.encode,
                                     series_instance_uid=output_uid(seed, "pdf.series"),
                                     sop_instance_uid=output_uid(seed, "pdf.sop"),
                                     document_title="Liver CT analysis: not performed")
        atomic_write(out_dir / "summary.pdf", pdf)
        outputs.append(_write_dicom(enc, out_dir / "summary-pdf.dcm"))
    except Exception as exc:  # as above
        failures.append(_report_failure("pdf", exc))
    return outputs, failures


def _reject(selection: SelectionResult, reason: str, files: Sequence[Path], out_dir: Path,
            config: PipelineConfig, engine: SegmentationEngine, seed: str,
            stages: _Stages, stage: str = "select") -> StudyResult:
    result = _base_result(selection, StudyStatus.REJECTED, reason)
    result["warnings"] = [{"code": "STUDY_REJECTED", "message": reason, "action": "withheld",
                           "affects": ["all"], "stage": stage},
                          *(w.to_dict() for w in _assumption_warnings(selection))]
    outputs: list[Path] = []
    header = _any_header(files)
    if config.write_rejection_report and header is None:
        result["warnings"].append(_report_failure("report", SourceHeaderError(
            "no file of the study has a Study, Series, SOP Class and SOP Instance UID")))
    elif config.write_rejection_report and header is not None:
        with stages.stage("encode") as msg:
            outputs, failures = _write_rejection_reports(selection, reason, header, out_dir,
                                                         config, engine, seed)
            msg.extend(w["message"] for w in failures)
        result["warnings"] += failures
    result["outputs"] = [p.name for p in outputs]
    result["stages_s"] = stages.timings
    write_result_json(result, out_dir)
    return StudyResult(StudyStatus.REJECTED, reason, result, outputs)


def run_study(paths: Iterable[Path], out_dir: Path, config: PipelineConfig, *,
              engine: SegmentationEngine, planner: PlannerInputs | None = None,
              run_id: str = "", on_stage: StageCallback | None = None) -> StudyResult:
    """Run the pipeline on one study.

    Parameters
    ----------
    paths : iterable of Path
        The study's DICOM files (or folders, searched recursively).
    out_dir : Path
        Where ``result.json``, ``seg.dcm``, ``sr.dcm``, ``summary-pdf.dcm`` and
        ``summary.pdf`` are written (created if needed).
    config : PipelineConfig
        Every stage's settings.
    engine : SegmentationEngine
        The segmentation engine (built once by the caller; models verified).
    planner : PlannerInputs, optional
        Planner inputs for the SIRT plan (config defaults otherwise).
    run_id : str
        Identity of this run (e.g. the job id); with the chosen series it seeds the output
        UIDs, so the same run always writes the same UIDs.
    on_stage : callable, optional
        Called after each stage with its name, duration (s) and a short message.

    Returns
    -------
    StudyResult
        Status, reason, result data and the DICOM outputs to send.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    stages = _Stages(on_stage)
    files = _expand(paths)
    with stages.stage("select") as msg:
        selection = select_series(files, config.selection)
        msg.append(f"chosen {selection.chosen_series_uid}" if selection.chosen
                   else f"none: {selection.rejection_reason}")
    seed = f"{run_id}|{selection.chosen_series_uid or ''}|" + hashlib.sha256(
        "|".join(sorted(str(f) for f in files)).encode()).hexdigest()[:16]
    volume = selection.chosen
    if volume is None:
        reason = selection.rejection_reason or "no suitable series"
        if config.dosimetry.enabled and _has_emission(files):
            reason = ("NM/PET images without a planning CT (no CT study of the same patient "
                      f"linked within {config.dosimetry.link_window_days:g} days): " + reason)
        return _reject(selection, reason, files, out_dir, config, engine, seed, stages)
    try:
        return _measure(volume, selection, files, out_dir, config, engine, planner, seed,
                        stages)
    except InputDataError as exc:
        reason = f"{type(exc).__name__}: {exc}"
        return _reject(selection, reason, files, out_dir, config, engine, seed, stages,
                       stage="measure")


def _measure(volume: CTVolume, selection: SelectionResult, files: Sequence[Path],
             out_dir: Path, config: PipelineConfig, engine: SegmentationEngine,
             planner: PlannerInputs | None, seed: str, stages: _Stages) -> StudyResult:
    """Segment, quantify and encode the chosen volume (the rest of :func:`run_study`)."""
    with stages.stage("segment") as msg:
        seg = engine.segment(volume)
        msg.append(f"device {seg.device}, confidence {seg.confidence.score:.2f}")
    with stages.stage("coverage") as msg:
        incomplete = _incomplete_coverage(seg)
        msg.extend(incomplete)
    if incomplete and config.reject_incomplete_liver_coverage:
        reason = "incomplete coverage: " + "; ".join(incomplete)
        return _reject(selection, reason, files, out_dir, config, engine, seed, stages,
                       stage="coverage")

    with stages.stage("dosimetry") as msg:
        dosimetry = run_dosimetry(files, selection.chosen_series_uid or "", volume, seg,
                                  config.dosimetry, config.quantification.constants())
        msg.append(_dosimetry_message(dosimetry))
    header = sanitised(source_image(selection.chosen_headers[0]))  # read by the selection
    with stages.stage("quantify"):
        quality = QualityContext(
            incomplete_coverage=["liver"] if incomplete else [],
            slice_thickness_mm=volume.slice_thickness_mm,
            review_recommended=seg.confidence.review_recommended,
            review_reasons=list(seg.confidence.reasons))
        quant = quantify(seg.labelmap, seg.labels, volume.spacing_mm, _patient(header),
                         planner or PlannerInputs(), quality, config.quantification,
                         hu=volume.hu, study_date=study_date(header),
                         regions=seg.regions, region_model=seg.region_model,
                         image_inputs=dosimetry.measured)

    warnings = [*quant.warnings,
                *(Finding("SEGMENTATION", w, [], "note", "segment") for w in seg.warnings),
                *_assumption_warnings(selection), *dosimetry.findings]
    result = _base_result(selection, StudyStatus.SUCCEEDED, None)
    result.update(quant.to_dict())
    result["dosimetry"] = dosimetry.section
    result["confidence"] = seg.confidence.to_dict()
    result["segmentation"] = seg.to_dict()
    result["incomplete_coverage"] = incomplete
    result["warnings"] = [w.to_dict() for w in warnings]
    if seg.is_demo:
        result["notice"] = "Demo model, not for clinical use"

    with stages.stage("encode"), paused_collector():  # see pipeline.encode.collector
        description = str(header.get("SeriesDescription", ""))
        content = report_content(quant, series_choice(result["series"], description),
                                 algorithm_info(seg.models), seg.confidence, warnings,
                                 set(incomplete))
        content = dataclasses.replace(content, dosimetry=dosimetry.groups,
                                      dosimetry_report=dosimetry.report)
        sources = selected_source_headers(volume, selection.chosen_headers)  # no file read
        outputs = _encode(volume, sources, seg, quant, content, out_dir, config, seed)
        outputs += _write_dosimetry(dosimetry, out_dir, seed)
    result["outputs"] = [p.name for p in outputs]
    result["stages_s"] = stages.timings
    write_result_json(result, out_dir)
    return StudyResult(StudyStatus.SUCCEEDED, None, result, outputs)


def _dosimetry_message(stage: DosimetryStage) -> str:
    if stage.section is None:
        return "no NM/PET images"
    parts = [f"{name} done" for name, dose in (("MAA SPECT", stage.maa), ("Y-90 PET", stage.pet))
             if dose is not None]
    return "; ".join(parts + [f.message for f in stage.findings])


def _write_dosimetry(stage: DosimetryStage, out_dir: Path, seed: str) -> list[Path]:
    """Write the RT Dose objects (deterministic UIDs) and the DVH plot."""
    outputs = []
    for kind, dose in (("maa", stage.maa), ("y90pet", stage.pet)):
        if dose is None:
            continue
        ds = dose.rtdose
        ds.SeriesInstanceUID = output_uid(seed, f"rtdose.{kind}.series")
        ds.SOPInstanceUID = output_uid(seed, f"rtdose.{kind}.sop")
        ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
        outputs.append(_write_dicom(ds, out_dir / RTDOSE_FILES[kind]))
    if stage.report is not None and stage.report.dvh_png is not None:
        atomic_write(out_dir / DVH_FILE, stage.report.dvh_png)
    return outputs


def _encode(volume: CTVolume, sources: Sequence[Dataset], seg: SegmentationResult,
            quant: QuantResult, content: ReportContent, out_dir: Path, config: PipelineConfig,
            seed: str) -> list[Path]:
    seg_content = SegmentationContent(labelmap=seg.labelmap, labels=seg.labels,
                                      algorithm=content.algorithm, lesion_map=quant.lesion_map,
                                      regions=seg.regions)
    seg_ds = build_seg(volume, sources, seg_content, config.encode,
                       series_instance_uid=output_uid(seed, "seg.series"),
                       sop_instance_uid=output_uid(seed, "seg.sop"))
    outputs = [_write_dicom(seg_ds, out_dir / "seg.dcm")]
    sr = build_sr(seg_ds, sources, content, config.encode,
                  series_instance_uid=output_uid(seed, "sr.series"),
                  sop_instance_uid=output_uid(seed, "sr.sop"))
    outputs.append(_write_dicom(sr, out_dir / "sr.dcm"))
    if config.encode.write_pdf:
        pdf = build_pdf(volume, sources[0], seg_content, content, config.encode)
        atomic_write(out_dir / "summary.pdf", pdf)
        enc = build_encapsulated_pdf(pdf, sources[0], content.algorithm, config.encode,
                                     derived_from=[seg_ds],
                                     series_instance_uid=output_uid(seed, "pdf.series"),
                                     sop_instance_uid=output_uid(seed, "pdf.sop"))
        outputs.append(_write_dicom(enc, out_dir / "summary-pdf.dcm"))
    return outputs
