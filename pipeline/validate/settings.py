"""Settings of a validation run."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ValidationSettings:
    """How a validation run computes and summarises.

    Parameters
    ----------
    tolerance_mm : float
        NSD tolerance, mm.
    bootstrap : int
        Bootstrap resamples of the confidence intervals (0: none).
    seed : int
        Seed of the bootstrap.
    risk_structure : str
        Structure whose 1 - Dice is the risk of the risk-coverage curve.
    review_below_score : float
        The configured review cut-off of the confidence score
        (``ConfidenceConfig.review_below_score``), marked on the risk-coverage curve.
    """

    tolerance_mm: float = 3.0
    bootstrap: int = 1000
    seed: int = 0
    risk_structure: str = "liver"
    review_below_score: float = 0.75
