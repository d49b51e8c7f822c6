"""Risk-coverage curve and its area (AURC) for a confidence score.

Cases are accepted from the most confident down. At a threshold t, coverage = fraction of
cases with confidence >= t and selective risk = mean risk of those cases; the curve has one
point per distinct confidence value (tied cases enter together). AURC = sum over the points
of selective risk x coverage gained (right Riemann sum over coverage in [0, 1]); without
ties it equals the mean over k = 1..n of the mean risk of the k most confident cases
(Geifman et al., ICLR 2019). Lower is better. ``aurc_optimal`` is the AURC of an oracle
that orders cases by their true risk; ``risk_all`` (mean risk) is what a score that cannot
rank at all gets in expectation.
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
        AURC of the ideal ordering.
    risk_all : float
        Mean risk of all cases.
    """

    coverage: list[float] = field(default_factory=list)
    risk: list[float] = field(default_factory=list)
    thresholds: list[float] = field(default_factory=list)
    aurc: float = float("nan")
    aurc_optimal: float = float("nan")
    risk_all: float = float("nan")


def _curve(confidence: NDArray[np.float64], risk: NDArray[np.float64]
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
    return RiskCoverage(coverage=cov.tolist(), risk=sel.tolist(), thresholds=thr.tolist(),
                        aurc=_area(cov, sel), aurc_optimal=_area(oc, orisk),
                        risk_all=float(loss.mean()))
