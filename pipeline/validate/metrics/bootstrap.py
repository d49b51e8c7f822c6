"""Percentile bootstrap confidence intervals over cases, with a fixed seed."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numpy.typing import ArrayLike, NDArray


def bootstrap_ci(n_items: int, statistic: Callable[[NDArray[np.intp]], float],
                 n_resamples: int = 1000, seed: int = 0, level: float = 0.95
                 ) -> tuple[float, float]:
    """Percentile bootstrap interval of a statistic of resampled items.

    Parameters
    ----------
    n_items : int
        Number of items (cases) resampled with replacement.
    statistic : callable
        Maps an index array (length ``n_items``) to the statistic; NaN results are dropped.
    n_resamples : int
        Bootstrap resamples.
    seed : int
        Seed of ``numpy.random.default_rng`` (same seed, same interval).
    level : float
        Coverage of the interval, e.g. 0.95.

    Returns
    -------
    tuple[float, float]
        (lower, upper) percentiles; (NaN, NaN) with fewer than two items, no resample or no
        finite statistic.
    """
    if n_items < 2 or n_resamples < 1:
        return float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    stats = np.array([statistic(rng.integers(0, n_items, n_items)) for _ in range(n_resamples)])
    stats = stats[np.isfinite(stats)]
    if stats.size == 0:
        return float("nan"), float("nan")
    alpha = (1.0 - level) / 2.0
    low, high = np.quantile(stats, [alpha, 1.0 - alpha])
    return float(low), float(high)


def mean_ci(values: ArrayLike, n_resamples: int = 1000, seed: int = 0,
            level: float = 0.95) -> tuple[float, float]:
    """Bootstrap interval of the mean of the finite values (NaNs dropped first)."""
    v = np.asarray(values, float)
    v = v[np.isfinite(v)]
    return bootstrap_ci(v.size, lambda idx: float(v[idx].mean()), n_resamples, seed, level)
