"""Choosing the series to segment from a folder of DICOM files, with reasons.

Flow: headers only (``stop_before_pixels``) -> series -> images that may be a volume ->
geometry groups -> stacks -> geometry QA, thickness, kernel, header phase -> for valid
candidates a few sampled slices are read for image phase and liver coverage -> score and
rank -> the best accepted candidate is read in full (sampled slices are not decoded twice).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from pydicom.dataset import Dataset

from pipeline.select.assumptions import describe
from pipeline.select.config import SelectionConfig
from pipeline.select.coverage import CoverageReport, assess_coverage
from pipeline.select.emission import emission_frames, is_emission
from pipeline.select.frames import several_images
from pipeline.select.geometry import (
    GeometryReport,
    check_geometry,
    group_by_geometry,
    positions_along_normal,
    split_stacks,
)
from pipeline.select.headers import (
    Unreadable,
    attribute_text,
    group_by_series,
    instance_exclusion,
    number,
    read_headers,
    slice_normal,
    tm_seconds,
)
from pipeline.select.image_evidence import (
    PlaneGeometry,
    body_crops,
    liver_like_areas,
    liver_noise_sd_hu,
    measure_slices,
)
from pipeline.select.phase import PhaseEstimate, decide_phase, header_phase, image_phase
from pipeline.select.ranking import (
    CandidateReport,
    assess_thickness,
    kernel_class,
    phase_score,
    rank,
)
from pipeline.select.reasons import CandidateReason, GeometryReason
from pipeline.select.terms import ContrastPhase, KernelClass
from pipeline.select.volume import VolumeError, read_hu_into, read_hu_slices, volume_from_slices
from pipeline.volume import CTVolume


@dataclass
class _Candidate:
    report: CandidateReport
    slices: list[Dataset]
    geometry: GeometryReport | None = None
    sampled: dict[int, NDArray[np.float32]] = field(default_factory=dict)
    phase: PhaseEstimate | None = None
    coverage: CoverageReport | None = None
    noise_sd_hu: float | None = None


@dataclass
class SelectionResult:
    """What :func:`select_series` chose and why.

    Parameters
    ----------
    chosen : CTVolume or None
        The volume of the chosen candidate.
    chosen_series_uid : str or None
        Its SeriesInstanceUID.
    chosen_stack : str
        Which stack of that series (empty: the whole series).
    phase : PhaseEstimate or None
        Phase, evidence and confidence of the chosen candidate.
    coverage : CoverageReport or None
        Liver coverage of the chosen candidate.
    ranking : list[CandidateReport]
        Every candidate, best first.
    rejection_reason : str or None
        Why nothing was chosen.
    notes : list[str]
        Non-blocking findings of the chosen volume and files that could not be read.
    assumptions : list[str]
        What was assumed while reading the headers, one sentence per kind with the number
        of files (:func:`pipeline.select.assumptions.describe`).
    chosen_headers : list[pydicom.Dataset]
        The headers the chosen volume was built from, read without pixel data, in its slice
        order (a frame of a multi-frame image as its
        :class:`~pipeline.select.frames.FrameHeader`); the writers take their source
        headers from them (:func:`pipeline.encode.source.selected_source_headers`) instead
        of reading the files again. Empty when nothing was chosen.
    """

    chosen: CTVolume | None
    chosen_series_uid: str | None
    chosen_stack: str = ""
    phase: PhaseEstimate | None = None
    coverage: CoverageReport | None = None
    ranking: list[CandidateReport] = field(default_factory=list)
    rejection_reason: str | None = None
    notes: list[str] = field(default_factory=list)
    assumptions: list[str] = field(default_factory=list)
    chosen_headers: list[Dataset] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form (``result.json`` key ``series``)."""
        return {
            "chosen_series_instance_uid": self.chosen_series_uid,
            "chosen_stack": self.chosen_stack,
            "n_slices": self.chosen.shape[0] if self.chosen is not None else None,
            "spacing_mm": list(self.chosen.spacing_mm) if self.chosen is not None else None,
            "phase": self.phase.to_dict() if self.phase else None,
            "coverage": self.coverage.to_dict() if self.coverage else None,
            "rejection_reason": self.rejection_reason,
            "notes": list(self.notes),
            "assumptions": list(self.assumptions),
            "ranking": [r.to_dict() for r in self.ranking],
        }


def select_series(paths: Iterable[Path], config: SelectionConfig) -> SelectionResult:
    """Choose the series (stack) to segment.

    Parameters
    ----------
    paths : iterable of Path
        DICOM files or folders (searched recursively).
    config : SelectionConfig
        Selection rules.

    Returns
    -------
    SelectionResult
        The chosen volume (or None with the reason) and the full ranking.
    """
    datasets, unreadable, assumed = read_headers(paths)
    assumptions = describe(assumed)
    candidates, rejected = _candidates(datasets, config)
    _assess(candidates, config)
    ranking = rank([c.report for c in candidates] + rejected)
    notes = [f"{CandidateReason.UNREADABLE.value}: {u.path}: {u.error}" for u in unreadable]
    by_report = {id(c.report): c for c in candidates}
    for report in ranking:
        if not report.accepted:
            break
        cand = by_report[id(report)]
        try:
            volume = _read_full(cand)
        except VolumeError as exc:
            report.accepted = False
            report.reasons.extend(str(f) for f in exc.findings)
            continue
        _mark_lower_ranks(ranking, report)
        assert cand.geometry is not None
        notes += [str(f) for f in cand.geometry.findings if not f.reason.blocking]
        return SelectionResult(
            chosen=volume,
            chosen_series_uid=report.series_instance_uid,
            chosen_stack=report.stack,
            phase=cand.phase,
            coverage=cand.coverage,
            ranking=rank(ranking),
            notes=notes,
            assumptions=assumptions,
            chosen_headers=[cand.slices[i] for i in cand.geometry.order],
        )
    return SelectionResult(
        chosen=None,
        chosen_series_uid=None,
        ranking=rank(ranking),
        rejection_reason=_why_none(ranking, len(datasets), unreadable),
        notes=notes,
        assumptions=assumptions,
    )


def _mark_lower_ranks(ranking: Sequence[CandidateReport], chosen: CandidateReport) -> None:
    for report in ranking:
        if report is not chosen and report.accepted:
            report.reasons.append(
                f"{CandidateReason.LOWER_RANK.value}: score {report.score:.1f} < "
                f"{chosen.score:.1f} (or tie broken by SeriesNumber/SeriesInstanceUID)"
            )


def _why_none(
    ranking: Sequence[CandidateReport], n_files: int, unreadable: Sequence[Unreadable]
) -> str:
    if n_files == 0:
        if not unreadable:
            return "no readable DICOM files"
        first = unreadable[0]
        return (
            f"no readable DICOM files: {len(unreadable)} unreadable, the first "
            f"{Path(first.path).name}: {first.error}"
        )
    if not ranking:
        return "no series found"
    best = ranking[0]
    reasons = "; ".join(best.reasons) or "not accepted"
    number = best.series_number if best.series_number is not None else "(no number)"
    return (
        f"no acceptable series among {len(ranking)} candidate(s); best ranked: series "
        f"{number} {best.series_description!r}: {reasons}"
    )


def _base_report(ds: Dataset, n: int, stack: str = "") -> CandidateReport:
    series_number = number(ds, "SeriesNumber")
    return CandidateReport(
        series_instance_uid=str(ds.get("SeriesInstanceUID", "")),
        series_number=int(series_number) if series_number is not None else None,
        series_description=str(ds.get("SeriesDescription", "")),
        stack=stack,
        n_slices=n,
        kernel=attribute_text(ds, "ConvolutionKernel"),
    )


def _candidates(
    datasets: Sequence[Dataset], config: SelectionConfig
) -> tuple[list[_Candidate], list[CandidateReport]]:
    """Split series into candidate stacks; series with no usable image become rejected
    reports."""
    candidates: list[_Candidate] = []
    rejected: list[CandidateReport] = []
    nm_frames = emission_frames(datasets) if config.candidates.exclude_emission_ct else set()
    for series in group_by_series(datasets).values():
        frame = str(series[0].get("FrameOfReferenceUID", ""))
        if frame in nm_frames and not is_emission(series[0]):
            report = _base_report(series[0], len(series))
            report.reasons = [f"{CandidateReason.NM_ATTENUATION_CT.value}: FrameOfReferenceUID "
                              "shared with an NM/PET image (SPECT/CT or PET/CT)"]
            rejected.append(report)
            continue
        kept: list[Dataset] = []
        excluded: Counter[str] = Counter()
        for ds in series:
            why = instance_exclusion(ds, config.candidates)
            if why is None:
                kept.append(ds)
            else:
                excluded[f"{why[0].value}: {why[1]}"] += 1
        notes = [f"{text} ({n} image(s))" for text, n in excluded.most_common()]
        if not kept:
            report = _base_report(series[0], len(series))
            report.reasons = notes
            rejected.append(report)
            continue
        groups = group_by_geometry(kept, config.geometry)
        for g, group in enumerate(groups):
            stacks = split_stacks(group, config.geometry)
            for label, stack in stacks:
                name = label if len(groups) == 1 else f"group {g + 1}/{len(groups)} {label}".strip()
                report = _base_report(stack[0], len(stack), name)
                report.reasons = list(notes)
                if label:
                    report.reasons.append(
                        f"{CandidateReason.SPLIT_STACK.value}: series split into "
                        f"{len(stacks)} stacks by {label.split('=')[0]}"
                    )
                candidates.append(_Candidate(report, stack))
    return candidates, rejected


def _assess(candidates: Sequence[_Candidate], config: SelectionConfig) -> None:
    study_start = _earliest_times(candidates)
    for cand in candidates:
        report = cand.report
        cand.geometry = check_geometry(cand.slices, config.geometry)
        geometry_ok = cand.geometry.ok
        if not geometry_ok:
            report.reasons.append(f"{CandidateReason.GEOMETRY.value}: slices are not one volume")
        report.reasons.extend(str(f) for f in cand.geometry.findings)
        several = several_images(cand.slices)
        if several:
            geometry_ok = False
            report.reasons.append(f"{CandidateReason.MULTIFRAME_SEVERAL_IMAGES.value}: {several}")
        first = cand.slices[cand.geometry.order[0]]
        thickness = _thickness(first, cand.geometry)
        report.slice_thickness_mm = thickness
        thick = assess_thickness(thickness, config.thickness) if thickness else None
        kclass = kernel_class(first, config.kernel)
        report.kernel_class = kclass.value
        kernel_rejected = kclass in config.kernel.rejected
        if kclass in (KernelClass.BONE, KernelClass.LUNG):
            verdict = "rejected" if kernel_rejected else "penalty"
            report.reasons.append(
                f"{CandidateReason.SHARP_KERNEL.value}: {kclass.value} kernel ({verdict})"
            )
        if thick is not None:
            report.reasons.extend(thick.reasons)
        usable = geometry_ok and (thick is None or not thick.rejected) and not kernel_rejected
        hdr, hdr_evidence = header_phase(_earliest(cand.slices), config.phase)
        relative = _relative_time(cand.slices, study_start)
        if relative is not None:
            hdr_evidence.append(f"acquired {relative:.0f} s after the study's first candidate")
        vote = hu = None
        if usable and config.phase.use_image:
            try:
                vote, hu = _image_evidence(cand, config)
            except VolumeError as exc:
                usable = False
                report.reasons.extend(str(f) for f in exc.findings)
        cand.phase = decide_phase(hdr, hdr_evidence, vote, hu, config.phase)
        _score(
            cand,
            config,
            usable,
            thick.score if thick else 0.0,
            config.kernel.scores.get(kclass, 0.0),
        )
        if not report.accepted:
            cand.sampled = {}  # only a candidate that may be chosen keeps its decoded slices


def _score(
    cand: _Candidate,
    config: SelectionConfig,
    usable: bool,
    thickness_score: float,
    kernel_score: float,
) -> None:
    report, phase = cand.report, cand.phase
    assert phase is not None
    report.phase = phase.phase.value
    report.phase_confidence = phase.confidence
    report.phase_evidence = phase.to_dict()
    parts = {
        "phase": phase_score(phase.phase, phase.confidence, config),
        "thickness": thickness_score,
        "kernel": kernel_score,
        "coverage": 0.0,
        "noise": 0.0,
    }
    accepted = usable
    if cand.noise_sd_hu is not None:
        report.noise_sd_hu = cand.noise_sd_hu
        thickness = report.slice_thickness_mm or 5.0
        at_5mm = cand.noise_sd_hu * (thickness / 5.0) ** 0.5
        if at_5mm > config.noise.max_sd_hu_at_5mm:
            parts["noise"] = -config.noise.penalty
            accepted = accepted and not config.noise.reject
            report.reasons.append(
                f"{CandidateReason.HIGH_NOISE.value}: noise SD {cand.noise_sd_hu:.1f} HU "
                f"({at_5mm:.1f} HU at 5 mm) > {config.noise.max_sd_hu_at_5mm:g} HU at 5 mm"
            )
    if phase.disagreement:
        report.reasons.append(
            f"{CandidateReason.PHASE_DISAGREEMENT.value}: header "
            f"{phase.header.phase.value if phase.header else '?'}, image {phase.phase.value}"
        )
    if phase.phase not in config.phase.accepted:
        accepted = False
        report.reasons.append(
            f"{CandidateReason.PHASE_NOT_ACCEPTED.value}: {phase.phase.value} not in "
            f"{[p.value for p in config.phase.accepted]}"
        )
    if cand.coverage is not None:
        report.coverage = cand.coverage.status
        if cand.coverage.status == "incomplete":
            parts["coverage"] = -config.coverage.penalty
            report.reasons.append(
                f"{CandidateReason.INCOMPLETE_COVERAGE.value}: {'; '.join(cand.coverage.evidence)}"
            )
            accepted = accepted and not config.coverage.reject_incomplete
    report.score_parts = parts
    report.score = sum(parts.values())
    report.accepted = accepted


def _thickness(first: Dataset, geometry: GeometryReport) -> float | None:
    thickness = number(first, "SliceThickness")
    return thickness if thickness else geometry.slice_spacing_mm


def _earliest(slices: Sequence[Dataset]) -> Dataset:
    timed = [
        (t, i)
        for i, ds in enumerate(slices)
        if (t := tm_seconds(ds.get("AcquisitionTime"))) is not None
    ]
    return slices[min(timed)[1]] if timed else slices[0]


def _earliest_times(candidates: Sequence[_Candidate]) -> dict[str, float]:
    study: dict[str, float] = {}
    for cand in candidates:
        ds = _earliest(cand.slices)
        t = tm_seconds(ds.get("AcquisitionTime"))
        if t is not None:
            uid = str(ds.get("StudyInstanceUID", ""))
            study[uid] = min(t, study.get(uid, t))
    return study


def _relative_time(slices: Sequence[Dataset], study_start: dict[str, float]) -> float | None:
    ds = _earliest(slices)
    t = tm_seconds(ds.get("AcquisitionTime"))
    start = study_start.get(str(ds.get("StudyInstanceUID", "")))
    return None if t is None or start is None else t - start


def _sample_indices(n: int, k: int) -> list[int]:
    return sorted({round(v) for v in np.linspace(0, n - 1, min(n, k))})


def _image_evidence(
    cand: _Candidate, config: SelectionConfig
) -> tuple[Any, dict[str, float] | None]:
    """Read sampled slices, measure them, decide the image phase and the coverage."""
    assert cand.geometry is not None
    ordered = [cand.slices[i] for i in cand.geometry.order]
    picks = _sample_indices(len(ordered), config.phase.image_sample_slices)
    hu = read_hu_slices([ordered[i] for i in picks])
    cand.sampled = {i: hu[k] for k, i in enumerate(picks)}
    first = ordered[0]
    iop = [float(v) for v in first.ImageOrientationPatient]
    geom = PlaneGeometry(
        pixel_spacing_mm=(float(first.PixelSpacing[0]), float(first.PixelSpacing[1])),
        row_cosine=(iop[0], iop[1], iop[2]),
        column_cosine=(iop[3], iop[4], iop[5]),
    )
    crops = body_crops(hu, geom)  # one body mask per slice, for every measurement
    measures = measure_slices(hu, geom, crops)
    vote, hu_values = image_phase(measures, config.phase)
    noise = liver_noise_sd_hu(measures)
    cand.noise_sd_hu = noise if np.isfinite(noise) else None
    d = positions_along_normal(ordered)
    liver_hu = (hu_values or {}).get("liver", float("nan"))
    if np.isfinite(liver_hu):
        areas = liver_like_areas(hu, geom, (liver_hu - 25.0, liver_hu + 25.0), crops)
        cand.coverage = assess_coverage(
            areas,
            scan_length_mm=float(d.max() - d.min()),
            cranial_last=bool(slice_normal(iop)[2] > 0),
            config=config.coverage,
        )
    else:
        cand.coverage = CoverageReport("unknown", ["no liver HU measured"])
    return vote, hu_values


def _read_full(cand: _Candidate) -> CTVolume:
    """Read the whole candidate, reusing slices already decoded for image evidence."""
    assert cand.geometry is not None
    ordered = [cand.slices[i] for i in cand.geometry.order]
    rest = [i for i in range(len(ordered)) if i not in cand.sampled]
    first = ordered[0]
    hu = np.empty((len(ordered), int(first.Rows), int(first.Columns)), dtype=np.float32)
    for i, arr in cand.sampled.items():
        hu[i] = arr
    cand.sampled = {}
    read_hu_into(hu, [ordered[i] for i in rest], rest)
    return volume_from_slices(ordered, hu, cand.geometry)


__all__ = [
    "CandidateReport",
    "ContrastPhase",
    "GeometryReason",
    "SelectionResult",
    "select_series",
]
