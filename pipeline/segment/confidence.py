"""Study-level confidence from fold agreement, tumour volume and slice thickness.

Following ``docs/clinical-sources.md`` §6: disagreement between fold predictions (mean
pairwise Dice per structure) detects failures, and adding tumour volume and slice thickness
improves the risk-coverage trade-off. Each term lies in [0, 1]:

- agreement: mean fold agreement over ``agreement_structures`` that any fold found as one
  connected component of a clinically relevant size (volume-aware Dice,
  :mod:`pipeline.segment.agreement`);
- tumour term: smallest metastasis volume / ``tumour_volume_full_ml``, capped at 1
  (1 when there is no metastasis);
- thickness term: 1 at or below ``slice_thickness_good_mm``, 0 at or above
  ``slice_thickness_poor_mm``, linear between.

score = weighted mean of the terms. A model run with a single fold has no fold agreement:
its structures give no agreement figure (never a perfect one), and when none of the
``agreement_structures`` has one for that reason the agreement term is left out, the score
is the weighted mean of the tumour and thickness terms, and ``notes`` says so.
Review is recommended, with a reason each, when the score is below ``review_below_score``, a
structure's fold Dice is below its ``min_fold_dice``, the smallest tumour is below
``tumour_volume_full_ml`` or the slices are thicker than ``slice_thickness_poor_mm``.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from pipeline.segment.agreement import component_volumes_ml
from pipeline.segment.config import ConfidenceConfig
from pipeline.structures import Structure

SCORE_METHOD = "mean pairwise Dice between folds, tumour volume and slice thickness terms"
"""How :attr:`Confidence.score` is computed, in words (shown in the reports)."""


@dataclass(frozen=True)
class StructureConfidence:
    """Confidence figures of one structure.

    Parameters
    ----------
    fold_dice : float or None
        Fold agreement, mean pairwise Dice between folds (None with a single fold or no
        fold finding it at a clinically relevant size; :mod:`pipeline.segment.agreement`).
    volume_ml : float
        Volume in the final label map, mL.
    flagged : bool
        Fold Dice below the structure's configured minimum.
    """

    fold_dice: float | None
    volume_ml: float
    flagged: bool


@dataclass(frozen=True)
class Confidence:
    """Study-level confidence.

    Parameters
    ----------
    score : float
        Combined score in [0, 1] (1 = most confident).
    review_recommended : bool
        True when a reviewer should check the segmentation.
    reasons : list[str]
        Why review is recommended (empty otherwise).
    per_structure : dict[Structure, StructureConfidence]
        Figures per segmented structure.
    terms : dict[str, float]
        ``agreement``, ``tumour_volume``, ``slice_thickness`` terms in [0, 1] (no
        ``agreement`` when it is unavailable).
    notes : list[str]
        How the score was made where it differs from the usual (agreement unavailable).
    """

    score: float
    review_recommended: bool
    reasons: list[str] = field(default_factory=list)
    per_structure: dict[Structure, StructureConfidence] = field(default_factory=dict)
    terms: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able summary."""
        return {
            "score": round(self.score, 4),
            "review_recommended": self.review_recommended,
            "reasons": list(self.reasons),
            "terms": {k: round(v, 4) for k, v in self.terms.items()},
            "notes": list(self.notes),
            "per_structure": {
                s.value: {
                    "fold_dice": None if c.fold_dice is None else round(c.fold_dice, 4),
                    "volume_ml": round(c.volume_ml, 3),
                    "flagged": c.flagged,
                }
                for s, c in self.per_structure.items()
            },
        }

    @property
    def fold_dice(self) -> dict[Structure, float]:
        """Fold agreement (mean pairwise Dice) of each structure that has one."""
        return {s: c.fold_dice for s, c in self.per_structure.items()
                if c.fold_dice is not None}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Confidence:
        """Read back :meth:`to_dict` (an earlier ``result.json``; figures as rounded there)."""
        return cls(
            score=float(data.get("score") or 0.0),
            review_recommended=bool(data.get("review_recommended")),
            reasons=[str(r) for r in data.get("reasons") or []],
            per_structure={Structure(k): StructureConfidence(
                v.get("fold_dice"), float(v.get("volume_ml") or 0.0), bool(v.get("flagged")))
                for k, v in (data.get("per_structure") or {}).items()},
            terms={k: float(v) for k, v in (data.get("terms") or {}).items()},
            notes=[str(n) for n in data.get("notes") or []])


def lesion_volumes_ml(mask: NDArray[np.bool_], spacing_mm: Sequence[float]) -> list[float]:
    """Volumes of the 26-connected components of a mask, mL, largest first."""
    return component_volumes_ml(mask, float(np.prod(spacing_mm)) / 1000.0)


def thickness_term(thickness_mm: float, good_mm: float, poor_mm: float) -> float:
    """1 at or below ``good_mm``, 0 at or above ``poor_mm``, linear between."""
    if thickness_mm <= good_mm:
        return 1.0
    if thickness_mm >= poor_mm or poor_mm <= good_mm:
        return 0.0
    return (poor_mm - thickness_mm) / (poor_mm - good_mm)


def combine(
    fold_dice: dict[Structure, float | None],
    volumes_ml: dict[Structure, float],
    smallest_tumour_ml: float | None,
    slice_thickness_mm: float,
    config: ConfidenceConfig,
    *,
    single_fold: Collection[Structure] = (),
) -> Confidence:
    """Combine the figures into a study score and a review recommendation.

    Parameters
    ----------
    fold_dice : dict[Structure, float or None]
        Mean pairwise fold Dice per structure.
    volumes_ml : dict[Structure, float]
        Final volume per structure, mL.
    smallest_tumour_ml : float or None
        Volume of the smallest metastasis, mL (None: no metastasis).
    slice_thickness_mm : float
        Slice thickness of the CT series, mm.
    config : ConfidenceConfig
        Weights and thresholds.
    single_fold : collection of Structure
        Structures segmented by a model run with one fold: they have no agreement figure.
        When every agreement structure segmented is among them, the agreement term is
        left out of the score (weights of the other terms renormalised) and a note says so.

    Returns
    -------
    Confidence
        Score, flag, reasons, notes and per-structure figures.
    """
    reasons: list[str] = []
    notes: list[str] = []
    agreeing = [d for s in config.agreement_structures
                if s not in single_fold and (d := fold_dice.get(s)) is not None]
    unavailable = [s.value for s in config.agreement_structures
                   if s in single_fold and s in fold_dice]
    agreement: float | None = float(np.mean(agreeing)) if agreeing else 1.0
    if unavailable and not agreeing:
        agreement = None
        notes.append(f"fold agreement unavailable: {', '.join(unavailable)} segmented by a "
                     "single-fold model; the score uses the tumour-volume and "
                     "slice-thickness terms only")
    elif unavailable:
        notes.append(f"fold agreement of {', '.join(unavailable)} unavailable (single-fold "
                     "model); the agreement term uses the other structures")
    if smallest_tumour_ml is None:
        tumour = 1.0
    else:
        tumour = min(1.0, smallest_tumour_ml / config.tumour_volume_full_ml)
        if tumour < 1.0:
            reasons.append(
                f"small metastasis ({smallest_tumour_ml:.2f} mL < "
                f"{config.tumour_volume_full_ml:g} mL)"
            )
    thickness = thickness_term(
        slice_thickness_mm, config.slice_thickness_good_mm, config.slice_thickness_poor_mm
    )
    if slice_thickness_mm >= config.slice_thickness_poor_mm:
        reasons.append(
            f"thick slices ({slice_thickness_mm:g} mm >= {config.slice_thickness_poor_mm:g} mm)"
        )
    weighted = {"agreement": (config.weight_agreement, agreement),
                "tumour_volume": (config.weight_tumour_volume, tumour),
                "slice_thickness": (config.weight_slice_thickness, thickness)}
    terms = {k: t for k, (_, t) in weighted.items() if t is not None}
    total = sum(w for k, (w, _) in weighted.items() if k in terms)
    score = (sum(weighted[k][0] * t for k, t in terms.items()) / total if total > 0
             else 1.0)
    per_structure: dict[Structure, StructureConfidence] = {}
    for s in sorted(set(fold_dice) | set(volumes_ml), key=lambda x: list(Structure).index(x)):
        d = fold_dice.get(s)
        minimum = config.min_fold_dice.get(s)
        flagged = d is not None and minimum is not None and d < minimum
        if flagged:
            reasons.append(f"{s.value}: fold agreement Dice {d:.3f} < {minimum:g}")
        per_structure[s] = StructureConfidence(d, volumes_ml.get(s, 0.0), flagged)
    if score < config.review_below_score:
        reasons.insert(0, f"confidence score {score:.3f} < {config.review_below_score:g}")
    return Confidence(
        score=float(score),
        review_recommended=bool(reasons),
        reasons=reasons,
        per_structure=per_structure,
        terms=terms,
        notes=notes,
    )
