"""Contrast phase from the header and from the image; the image wins when confident.

Header evidence, strongest first: Contrast/Bolus Agent Phase (0018,9344) defined terms,
AcquisitionTime - ContrastBolusStartTime, whole-word keywords of SeriesDescription and
ProtocolName in several languages. A ContrastBolusAgent value rules out the native phase.
Image evidence: HU of aorta, portal vein and liver (:mod:`pipeline.select.image_evidence`)
compared with per-phase prototypes.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from pydicom.dataset import Dataset

from pipeline.select.config import PhaseConfig
from pipeline.select.headers import description_words, fold, tm_seconds
from pipeline.select.image_evidence import SliceMeasures
from pipeline.select.terms import ContrastPhase

_AGENT_PHASE_TERMS = {
    "PRE_CONTRAST": ContrastPhase.NATIVE,
    "ARTERIAL": ContrastPhase.ARTERIAL,
    "PORTAL_VENOUS": ContrastPhase.PORTAL_VENOUS,
    "VENOUS": ContrastPhase.PORTAL_VENOUS,
    "DELAYED": ContrastPhase.DELAYED,
    "STEADY_STATE": ContrastPhase.DELAYED,
}
_NO_AGENT = {"", "none", "no", "nein", "non", "0", "n/a", "na"}


@dataclass(frozen=True)
class PhaseVote:
    """One piece of evidence for a phase.

    Parameters
    ----------
    phase : ContrastPhase
        The phase it points to.
    source : str
        ``contrast_bolus_agent_phase``, ``bolus_timing``, ``keyword`` or ``image``.
    confidence : float
        0..1.
    detail : str
        Human-readable evidence.
    """

    phase: ContrastPhase
    source: str
    confidence: float
    detail: str


@dataclass(frozen=True)
class PhaseEstimate:
    """The phase of one series with its evidence.

    Parameters
    ----------
    phase : ContrastPhase
        Decided phase.
    confidence : float
        0..1.
    source : str
        ``image``, ``header`` or ``none``.
    header : PhaseVote or None
        The header's decision.
    image : PhaseVote or None
        The image's decision.
    image_hu : dict[str, float] or None
        Measured ``aorta``, ``portal_vein`` and ``liver`` HU.
    evidence : list[str]
        Every piece of evidence and note, in words.
    disagreement : bool
        Header and image point to different phases (the image won).
    """

    phase: ContrastPhase
    confidence: float
    source: str
    header: PhaseVote | None = None
    image: PhaseVote | None = None
    image_hu: dict[str, float] | None = None
    evidence: list[str] = field(default_factory=list)
    disagreement: bool = False

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form."""
        return {
            "phase": self.phase.value,
            "confidence": round(self.confidence, 3),
            "source": self.source,
            "header_phase": self.header.phase.value if self.header else None,
            "image_phase": self.image.phase.value if self.image else None,
            "image_hu": self.image_hu,
            "disagreement": self.disagreement,
            "evidence": list(self.evidence),
        }


def _walk(ds: Dataset) -> Iterator[Dataset]:
    yield ds
    for elem in ds:
        if elem.VR == "SQ":
            for item in elem.value:
                yield from _walk(item)


def keyword_phases(words: Sequence[str], config: PhaseConfig) -> dict[ContrastPhase, list[str]]:
    """Phases named by whole words; two adjacent words joined are tried first and, when
    they match, their single words are not used again."""
    lookup = {fold(w): p for p, ws in config.keywords.items() for w in ws}
    found: dict[ContrastPhase, list[str]] = {}
    used: set[int] = set()
    for i in range(len(words) - 1):
        joined = words[i] + words[i + 1]
        if joined in lookup:
            found.setdefault(lookup[joined], []).append(f"{words[i]} {words[i + 1]}")
            used.update((i, i + 1))
    for i, w in enumerate(words):
        if i not in used and w in lookup:
            found.setdefault(lookup[w], []).append(w)
    return found


def contrast_agent(ds: Dataset) -> str | None:
    """ContrastBolusAgent when it names an agent, else None."""
    agent = str(ds.get("ContrastBolusAgent", "") or "").strip()
    return None if agent.casefold() in _NO_AGENT else agent


def header_votes(ds: Dataset, config: PhaseConfig) -> list[PhaseVote]:
    """Every header vote for a phase, strongest evidence first.

    Parameters
    ----------
    ds : Dataset
        A representative header of the series (its first slice in acquisition order).
    config : PhaseConfig
        Keywords and timing windows.
    """
    votes: list[PhaseVote] = []
    for item in _walk(ds):
        term = str(item.get("ContrastBolusAgentPhase", "") or "").upper()
        if term in _AGENT_PHASE_TERMS:
            votes.append(
                PhaseVote(
                    _AGENT_PHASE_TERMS[term],
                    "contrast_bolus_agent_phase",
                    0.9,
                    f"ContrastBolusAgentPhase {term}",
                )
            )
            break
    start = tm_seconds(ds.get("ContrastBolusStartTime"))
    acquired = tm_seconds(ds.get("AcquisitionTime"))
    if start is not None and acquired is not None:
        delay = (acquired - start) % 86400.0
        timed = _phase_from_delay(delay, config)
        if timed is not None:
            votes.append(
                PhaseVote(
                    timed,
                    "bolus_timing",
                    0.7,
                    f"AcquisitionTime {delay:.0f} s after ContrastBolusStartTime",
                )
            )
    named = keyword_phases(description_words(ds), config)
    if len(named) == 1:
        ((phase, hits),) = named.items()
        votes.append(PhaseVote(phase, "keyword", 0.6, f"description words {hits}"))
    elif len(named) > 1:
        listing = ", ".join(f"{p.value}: {w}" for p, w in named.items())
        votes.append(
            PhaseVote(
                ContrastPhase.UNKNOWN,
                "keyword",
                0.0,
                f"description names several phases ({listing})",
            )
        )
    return votes


def _phase_from_delay(delay: float, config: PhaseConfig) -> ContrastPhase | None:
    lo, hi = config.arterial_delay_s
    if lo <= delay <= hi:
        return ContrastPhase.ARTERIAL
    lo, hi = config.portal_venous_delay_s
    if lo <= delay <= hi:
        return ContrastPhase.PORTAL_VENOUS
    if delay >= config.delayed_after_s:
        return ContrastPhase.DELAYED
    return None


def header_phase(ds: Dataset, config: PhaseConfig) -> tuple[PhaseVote | None, list[str]]:
    """The header's phase decision and its evidence.

    The strongest vote wins; a disagreeing vote lowers its confidence by 0.2 and is
    recorded; a ContrastBolusAgent value vetoes a native decision.
    """
    votes = header_votes(ds, config)
    agent = contrast_agent(ds)
    evidence = [f"{v.source}: {v.detail} -> {v.phase.value}" for v in votes]
    evidence.append(f"ContrastBolusAgent {agent!r}" if agent else "no ContrastBolusAgent")
    real = [v for v in votes if v.phase is not ContrastPhase.UNKNOWN]
    if not real:
        return None, evidence
    best = max(real, key=lambda v: v.confidence)
    confidence = best.confidence
    if any(v.phase is not best.phase for v in real):
        confidence -= 0.2
        evidence.append("header evidence disagrees; strongest kept")
    if best.phase is ContrastPhase.NATIVE and agent:
        evidence.append("native by header but a contrast agent is recorded: phase unknown")
        return None, evidence
    return PhaseVote(best.phase, best.source, confidence, best.detail), evidence


def image_phase(
    measures: Sequence[SliceMeasures], config: PhaseConfig, top_k: int = 5
) -> tuple[PhaseVote | None, dict[str, float] | None]:
    """Nearest per-phase HU prototype of the measured aorta, portal vein and liver.

    Uses the ``top_k`` slices with the largest liver-like area; HU are medians over them.
    Confidence is the softmax weight of the nearest prototype with distance scale
    ``config.image_scale_hu``.

    Returns
    -------
    (PhaseVote or None, dict or None)
        None when no liver-like region or no aorta was found.
    """
    with_liver = sorted(
        (m for m in measures if m.liver_area_mm2 > 0), key=lambda m: m.liver_area_mm2, reverse=True
    )[:top_k]
    if not with_liver:
        return None, None
    values = {
        "aorta": float(np.nanmedian([m.aorta_hu for m in with_liver]))
        if any(np.isfinite(m.aorta_hu) for m in with_liver)
        else float("nan"),
        "portal_vein": float(np.nanmedian([m.portal_vein_hu for m in with_liver])),
        "liver": float(np.nanmedian([m.liver_hu for m in with_liver])),
    }
    hu = {k: round(v, 1) for k, v in values.items()}
    if not all(np.isfinite(v) for v in values.values()):
        return None, hu
    measured = np.array([values["aorta"], values["portal_vein"], values["liver"]])
    phases = list(config.prototypes)
    protos = np.array(
        [[p.aorta_hu, p.portal_vein_hu, p.liver_hu] for p in config.prototypes.values()]
    )
    d2 = np.sum((protos - measured) ** 2, axis=1) / 3.0
    logits = -d2 / (2.0 * config.image_scale_hu**2)
    weights = np.exp(logits - logits.max())
    weights /= weights.sum()
    k = int(np.argmax(weights))
    detail = (
        f"aorta {hu['aorta']:.0f} HU, portal vein {hu['portal_vein']:.0f} HU, "
        f"liver {hu['liver']:.0f} HU; nearest prototype {phases[k].value} "
        f"(rms distance {np.sqrt(d2[k]):.0f} HU)"
    )
    return PhaseVote(phases[k], "image", float(weights[k]), detail), hu


def decide_phase(
    header: PhaseVote | None,
    header_evidence: list[str],
    image: PhaseVote | None,
    image_hu: dict[str, float] | None,
    config: PhaseConfig,
) -> PhaseEstimate:
    """Combine header and image decisions: a confident image wins and any disagreement with
    the header is recorded."""
    evidence = list(header_evidence)
    if image is not None:
        evidence.append(f"image: {image.detail} -> {image.phase.value} ({image.confidence:.2f})")
    elif image_hu is not None:
        evidence.append(f"image: incomplete measurements {image_hu}")
    confident_image = image is not None and image.confidence >= config.image_min_confidence
    if image is not None and confident_image:
        disagree = header is not None and header.phase is not image.phase
        if disagree and header is not None:
            evidence.append(
                f"header says {header.phase.value}, image says {image.phase.value}: image wins"
            )
        return PhaseEstimate(
            image.phase, image.confidence, "image", header, image, image_hu, evidence, disagree
        )
    if header is not None:
        return PhaseEstimate(
            header.phase, header.confidence, "header", header, image, image_hu, evidence
        )
    if image is not None:
        evidence.append("no header evidence: weak image evidence used")
        return PhaseEstimate(
            image.phase, image.confidence, "image", None, image, image_hu, evidence
        )
    return PhaseEstimate(ContrastPhase.UNKNOWN, 0.0, "none", None, image, image_hu, evidence)
