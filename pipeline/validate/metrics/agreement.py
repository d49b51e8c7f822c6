"""Agreement of paired measurements (e.g. predicted and reference volumes of each case).

Intraclass correlation (Shrout & Fleiss 1979) from the two-way ANOVA of an n targets x k
raters table, with BMS (between targets), WMS (within targets), JMS (between raters) and
EMS (residual) mean squares:

- ICC(1,1) = (BMS - WMS) / (BMS + (k-1) WMS)                       one-way random;
- ICC(2,1) = (BMS - EMS) / (BMS + (k-1) EMS + k (JMS - EMS) / n)   two-way random,
  absolute agreement, single rater (the form the validation report states first);
- ICC(3,1) = (BMS - EMS) / (BMS + (k-1) EMS)                       two-way mixed,
  consistency, single rater;
- ICC(1,k), ICC(2,k), ICC(3,k): the same for the mean of the k raters.

Bland-Altman: differences d = prediction - reference; bias = mean(d), limits of agreement
= bias ± 1.96 SD(d) (SD with n - 1).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from numpy.typing import ArrayLike


@dataclass(frozen=True)
class Icc:
    """The six Shrout & Fleiss intraclass correlations of a table (dimensionless)."""

    icc1_1: float
    icc2_1: float
    icc3_1: float
    icc1_k: float
    icc2_k: float
    icc3_k: float

    def to_dict(self) -> dict[str, float]:
        """Field name -> value."""
        return asdict(self)


def icc(ratings: ArrayLike) -> Icc:
    """Intraclass correlations of an n x k table (formulas in the module docstring).

    Parameters
    ----------
    ratings : array_like, shape (n, k)
        Row = target (case), column = rater (reference, prediction); n >= 2, k >= 2.

    Returns
    -------
    Icc
        ICC(1,1), ICC(2,1), ICC(3,1), ICC(1,k), ICC(2,k), ICC(3,k); NaN where a
        denominator is 0 (e.g. all values equal).
    """
    x = np.asarray(ratings, dtype=float)
    if x.ndim != 2 or x.shape[0] < 2 or x.shape[1] < 2:
        raise ValueError(f"need an n x k table with n, k >= 2, got shape {x.shape}")
    n, k = x.shape
    grand = x.mean()
    ss_rows = k * float(((x.mean(axis=1) - grand) ** 2).sum())
    ss_cols = n * float(((x.mean(axis=0) - grand) ** 2).sum())
    ss_total = float(((x - grand) ** 2).sum())
    ss_error = ss_total - ss_rows - ss_cols
    bms = ss_rows / (n - 1)
    wms = (ss_total - ss_rows) / (n * (k - 1))
    jms = ss_cols / (k - 1)
    ems = ss_error / ((n - 1) * (k - 1))

    def ratio(num: float, den: float) -> float:
        return num / den if den != 0 else float("nan")

    return Icc(
        icc1_1=ratio(bms - wms, bms + (k - 1) * wms),
        icc2_1=ratio(bms - ems, bms + (k - 1) * ems + k * (jms - ems) / n),
        icc3_1=ratio(bms - ems, bms + (k - 1) * ems),
        icc1_k=ratio(bms - wms, bms),
        icc2_k=ratio(bms - ems, bms + (jms - ems) / n),
        icc3_k=ratio(bms - ems, bms),
    )


@dataclass(frozen=True)
class BlandAltman:
    """Bland-Altman figures, in the unit of the measurements.

    Parameters
    ----------
    bias : float
        Mean difference (prediction - reference).
    sd : float
        Standard deviation of the differences (n - 1).
    lower, upper : float
        Limits of agreement, bias ∓ 1.96 SD.
    n : int
        Number of pairs.
    """

    bias: float
    sd: float
    lower: float
    upper: float
    n: int

    def to_dict(self) -> dict[str, float]:
        """Field name -> value."""
        return asdict(self)


def bland_altman(pred: ArrayLike, ref: ArrayLike) -> BlandAltman:
    """Bias and 95 % limits of agreement of paired measurements.

    Parameters
    ----------
    pred, ref : array_like, shape (n,)
        Paired measurements (n >= 2).

    Returns
    -------
    BlandAltman
        Bias, SD and limits of agreement.
    """
    d = np.asarray(pred, float) - np.asarray(ref, float)
    if d.size < 2:
        raise ValueError("Bland-Altman needs at least two pairs")
    bias, sd = float(d.mean()), float(d.std(ddof=1))
    return BlandAltman(bias=bias, sd=sd, lower=bias - 1.96 * sd, upper=bias + 1.96 * sd,
                       n=int(d.size))
