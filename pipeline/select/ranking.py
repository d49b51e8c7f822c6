"""Pure ranking rules: kernel class, thickness score, candidate report and ordering."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from pydicom.dataset import Dataset

from pipeline.select.config import KernelConfig, SelectionConfig, ThicknessConfig
from pipeline.select.headers import attribute_text
from pipeline.select.reasons import CandidateReason
from pipeline.select.terms import ContrastPhase, KernelClass


def kernel_class(ds: Dataset, config: KernelConfig) -> KernelClass:
    """Class of the reconstruction kernel: the first rule whose pattern is found in its
    attribute (ConvolutionKernel values joined by spaces, or SeriesDescription)."""
    for rule in config.rules:
        text = attribute_text(ds, rule.attribute)
        if text and re.search(rule.pattern, text.strip(), flags=re.IGNORECASE):
            return rule.kernel_class
    return KernelClass.UNKNOWN


@dataclass(frozen=True)
class ThicknessAssessment:
    """Score and reasons for one SliceThickness.

    Parameters
    ----------
    score : float
        Score contribution.
    rejected : bool
        Thicker than acceptable.
    reasons : list[str]
        ``too_thick`` or ``thick_slices`` with detail, when applicable.
    """

    score: float
    rejected: bool
    reasons: list[str]


def assess_thickness(thickness_mm: float, config: ThicknessConfig) -> ThicknessAssessment:
    """Apply the thickness rules: preferred range bonus, acceptable with a penalty,
    rejected above ``max_mm``; always ``score_per_mm`` subtracted per mm."""
    base = -config.score_per_mm * thickness_mm
    if thickness_mm > config.max_mm:
        reason = f"{CandidateReason.TOO_THICK.value}: {thickness_mm:g} mm > {config.max_mm:g} mm"
        return ThicknessAssessment(base, True, [reason])
    if config.preferred_min_mm <= thickness_mm <= config.preferred_max_mm:
        return ThicknessAssessment(base + config.preferred_score, False, [])
    if thickness_mm > config.preferred_max_mm:
        reason = (
            f"{CandidateReason.THICK_SLICES.value}: {thickness_mm:g} mm above the preferred "
            f"{config.preferred_max_mm:g} mm (reliability penalty)"
        )
        return ThicknessAssessment(base - config.thick_penalty, False, [reason])
    return ThicknessAssessment(base, False, [])


@dataclass
class CandidateReport:
    """One candidate (a series, or one stack of it) with its ranking.

    Parameters
    ----------
    series_instance_uid, series_number, series_description : str, int or None, str
        The series.
    stack : str
        Which part of the series (empty: the whole series), e.g. ``AcquisitionNumber=2``.
    n_slices : int
        Slices in the candidate.
    phase : str
        Detected phase (``ContrastPhase`` value).
    phase_confidence : float
        0..1.
    slice_thickness_mm : float or None
        SliceThickness.
    kernel : str
        ConvolutionKernel as recorded.
    kernel_class : str
        ``KernelClass`` value.
    score : float
        Ranking score (higher is better).
    accepted : bool
        Eligible to be chosen.
    reasons : list[str]
        ``reason: detail`` strings (rejections, penalties and notes).
    coverage : str
        Liver coverage status (``complete``, ``incomplete``, ``unknown``, ``not_assessed``).
    phase_evidence : dict
        :meth:`PhaseEstimate.to_dict` of the phase decision (empty when not assessed).
    score_parts : dict[str, float]
        The score's terms: ``phase``, ``thickness``, ``kernel``, ``coverage``, ``noise``.
    noise_sd_hu : float or None
        Image noise measured in the liver, HU (None when not measured).
    """

    series_instance_uid: str
    series_number: int | None
    series_description: str
    stack: str = ""
    n_slices: int = 0
    phase: str = ContrastPhase.UNKNOWN.value
    phase_confidence: float = 0.0
    slice_thickness_mm: float | None = None
    kernel: str = ""
    kernel_class: str = KernelClass.UNKNOWN.value
    score: float = 0.0
    accepted: bool = False
    reasons: list[str] = field(default_factory=list)
    coverage: str = "not_assessed"
    phase_evidence: dict[str, Any] = field(default_factory=dict)
    score_parts: dict[str, float] = field(default_factory=dict)
    noise_sd_hu: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form."""
        return {
            "series_instance_uid": self.series_instance_uid,
            "series_number": self.series_number,
            "series_description": self.series_description,
            "stack": self.stack,
            "n_slices": self.n_slices,
            "phase": self.phase,
            "phase_confidence": round(self.phase_confidence, 3),
            "slice_thickness_mm": self.slice_thickness_mm,
            "kernel": self.kernel,
            "kernel_class": self.kernel_class,
            "score": round(self.score, 2),
            "score_parts": {k: round(v, 2) for k, v in self.score_parts.items()},
            "noise_sd_hu": None if self.noise_sd_hu is None else round(self.noise_sd_hu, 1),
            "accepted": self.accepted,
            "reasons": list(self.reasons),
            "coverage": self.coverage,
            "phase_evidence": self.phase_evidence,
        }


def rank_key(report: CandidateReport) -> tuple[object, ...]:
    """Sort key: accepted first, score descending, then SeriesNumber, SeriesInstanceUID and
    stack ascending (deterministic ties; a missing SeriesNumber sorts last)."""
    number = report.series_number if report.series_number is not None else 2**31
    return (
        not report.accepted,
        -round(report.score, 6),
        number,
        report.series_instance_uid,
        report.stack,
    )


def rank(reports: Sequence[CandidateReport]) -> list[CandidateReport]:
    """Candidates in ranking order (see :func:`rank_key`)."""
    return sorted(reports, key=rank_key)


def phase_score(phase: ContrastPhase, confidence: float, config: SelectionConfig) -> float:
    """Phase contribution: the phase's configured score x the phase confidence (unknown
    phases count fully)."""
    weight = 1.0 if phase is ContrastPhase.UNKNOWN else confidence
    return config.phase.scores.get(phase, 0.0) * weight
