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

score = weighted mean of the terms. Review is recommended, with a reason each, when the score
is below ``review_below_score``, a structure's fold Dice is below its ``min_fold_dice``, the
smallest tumour is below ``tumour_volume_full_ml`` or the slices are thicker than
``slice_thickness_poor_mm``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
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
        ``agreement``, ``tumour_volume``, ``slice_thickness`` terms in [0, 1].
    """

    score: float
    review_recommended: bool
    reasons: list[str] = field(default_factory=list)
    per_structure: dict[Structure, StructureConfidence] = field(default_factory=dict)
    terms: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able summary."""
        return {
            "score": round(self.score, 4),
            "review_recommended": self.review_recommended,
            "reasons": list(self.reasons),
            "terms": {k: round(v, 4) for k, v in self.terms.items()},
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
            terms={k: float(v) for k, v in (data.get("terms") or {}).items()})


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

    Returns
    -------
    Confidence
        Score, flag, reasons and per-structure figures.
    """
    reasons: list[str] = []
    agreeing = [d for d in (fold_dice.get(s) for s in config.agreement_structures) if d is not None]
    agreement = float(np.mean(agreeing)) if agreeing else 1.0
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
    weights = (config.weight_agreement, config.weight_tumour_volume, config.weight_slice_thickness)
    total = sum(weights)
    terms = (agreement, tumour, thickness)
    score = sum(w * t for w, t in zip(weights, terms, strict=True)) / total if total > 0 else 1.0
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
        terms={"agreement": agreement, "tumour_volume": tumour, "slice_thickness": thickness},
    )
