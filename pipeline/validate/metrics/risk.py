"""Risk-coverage curve and its area (AURC) for a confidence score.

Cases are accepted from the most confident down. At a threshold t, coverage = fraction of
cases with confidence >= t and selective risk = mean risk of those cases; the curve has one
point per distinct confidence value (tied cases enter together). AURC = sum over the points
of selective risk x coverage gained (right Riemann sum over coverage in [0, 1]); without
ties it equals the mean over k = 1..n of the mean risk of the k most confident cases
(Geifman et al., ICLR 2019). Lower is better. Two references frame it:

- ``aurc_optimal``: the oracle, which orders cases by their true risk (the lowest AURC any
  score can reach on these cases);
- ``aurc_random``: the expected AURC of a random order. The k cases accepted first are then
  a random subset, whose expected mean risk is the mean risk of all cases, for every k; so
  the expectation is exactly the mean risk (``risk_all``).

A score ranks better than no ranking when its AURC lies below ``aurc_random``; the excess
AURC (E-AURC = AURC - oracle AURC) is what is left to gain.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import ArrayLike, NDArray


@dataclass(frozen=True)
class RiskCoverage:
    """A risk-coverage curve.

    Parameters
    ----------
    coverage : list[float]
        Fraction of cases accepted at each point, ascending, last = 1.
    risk : list[float]
        Mean risk of the accepted cases at each point (unit of the risk).
    thresholds : list[float]
        Confidence threshold of each point.
    aurc : float
        Area under the curve (unit of the risk).
    aurc_optimal : float
        AURC of the ideal ordering (the oracle).
    risk_all : float
        Mean risk of all cases.
    oracle_coverage, oracle_risk : list[float]
        The oracle's curve (cases by ascending risk).
    """

    coverage: list[float] = field(default_factory=list)
    risk: list[float] = field(default_factory=list)
    thresholds: list[float] = field(default_factory=list)
    aurc: float = float("nan")
    aurc_optimal: float = float("nan")
    risk_all: float = float("nan")
    oracle_coverage: list[float] = field(default_factory=list)
    oracle_risk: list[float] = field(default_factory=list)

    @property
    def aurc_random(self) -> float:
        """Expected AURC of a random order: the mean risk (module docstring)."""
        return self.risk_all


@dataclass(frozen=True)
class OperatingPoint:
    """What a confidence cut-off does to a case set.

    Parameters
    ----------
    threshold : float
        Cases with confidence >= threshold are accepted, the others flagged for review.
    coverage : float
        Fraction of cases accepted.
    n_flagged : int
        Number of cases flagged.
    risk_accepted : float
        Mean risk of the accepted cases (NaN when none).
    risk_flagged : float
        Mean risk of the flagged cases (NaN when none).
    """

    threshold: float
    coverage: float
    n_flagged: int
    risk_accepted: float
    risk_flagged: float


def _curve(
    confidence: NDArray[np.float64], risk: NDArray[np.float64]
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    order = np.argsort(-confidence, kind="stable")
    c, r = confidence[order], risk[order]
    cum = np.cumsum(r)
    ends = np.flatnonzero(np.r_[c[1:] != c[:-1], True])
    k = ends + 1.0
    return k / len(c), cum[ends] / k, c[ends]


def _area(coverage: NDArray[np.float64], risk: NDArray[np.float64]) -> float:
    return float(np.sum(risk * np.diff(np.r_[0.0, coverage])))


def risk_coverage(confidence: ArrayLike, risk: ArrayLike) -> RiskCoverage:
    """Risk-coverage curve and AURC (definitions in the module docstring).

    Parameters
    ----------
    confidence : array_like, shape (n,)
        Confidence score per case (higher = more confident).
    risk : array_like, shape (n,)
        Risk (loss) per case, e.g. 1 - Dice.

    Returns
    -------
    RiskCoverage
        The curve and its areas; empty with NaN areas when n = 0.
    """
    conf = np.asarray(confidence, float)
    loss = np.asarray(risk, float)
    if conf.shape != loss.shape:
        raise ValueError("confidence and risk differ in length")
    if conf.size == 0:
        return RiskCoverage()
    cov, sel, thr = _curve(conf, loss)
    oc, orisk, _ = _curve(-np.arange(loss.size, dtype=float), np.sort(loss))
    return RiskCoverage(
        coverage=cov.tolist(),
        risk=sel.tolist(),
        thresholds=thr.tolist(),
        aurc=_area(cov, sel),
        aurc_optimal=_area(oc, orisk),
        risk_all=float(loss.mean()),
        oracle_coverage=oc.tolist(),
        oracle_risk=orisk.tolist(),
    )


def operating_point(confidence: ArrayLike, risk: ArrayLike, threshold: float) -> OperatingPoint:
    """Coverage and risks when cases below a confidence cut-off are flagged for review.

    Parameters
    ----------
    confidence : array_like, shape (n,)
        Confidence score per case.
    risk : array_like, shape (n,)
        Risk per case.
    threshold : float
        The cut-off: confidence >= threshold is accepted (as
        ``ConfidenceConfig.review_below_score`` flags a score below it).

    Returns
    -------
    OperatingPoint
        Coverage, number flagged and the mean risk on either side.
    """
    conf = np.asarray(confidence, float)
    loss = np.asarray(risk, float)
    accepted = conf >= threshold
    nan = float("nan")
    return OperatingPoint(
        threshold=float(threshold),
        coverage=float(accepted.mean()) if conf.size else nan,
        n_flagged=int((~accepted).sum()),
        risk_accepted=float(loss[accepted].mean()) if accepted.any() else nan,
        risk_flagged=float(loss[~accepted].mean()) if (~accepted).any() else nan,
    )
