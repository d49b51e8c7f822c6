"""Dose-volume figures of a region: mean dose, cumulative DVH, D_x and V_x.

Every voxel of a region counts with the same volume (the region is a set of whole voxels of
the dose grid). Conventions:

- **D_x** (Gy) is the minimum dose received by the hottest ``x`` % of the region's volume:
  sort the voxel doses in descending order and take the dose of the ``k``-th voxel with
  ``k = ceil(x/100 x n)`` (the smallest set of hottest voxels covering at least ``x`` % of the
  volume). No interpolation between voxels: every D_x is the dose of a voxel of the region.
- **V_y** (%) is the percentage of the region's voxels receiving **at least** ``y`` Gy.
- The cumulative DVH is V(d) at the given dose levels (exact, from the sorted doses; no
  histogram binning error).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from pipeline.dosimetry.result import RegionDose

FloatArray = NDArray[np.float64]

D_PERCENTS: tuple[float, ...] = (50.0, 70.0, 90.0, 95.0)
"""Volume percentages of the reported D_x."""

V_DOSES_GY: tuple[float, ...] = (70.0, 100.0, 120.0, 205.0)
"""Dose levels of the reported V_y, Gy."""


class EmptyRegionError(ValueError):
    """A region has no voxel on the dose grid: it has no dose-volume figures."""


def region_doses(dose_gy: NDArray[np.floating], mask: NDArray[np.bool_]) -> FloatArray:
    """Doses of the region's voxels, sorted in descending order, Gy.

    Parameters
    ----------
    dose_gy : ndarray
        Dose grid, Gy.
    mask : ndarray of bool
        The region on the same grid.

    Raises
    ------
    EmptyRegionError
        If the mask selects no voxel.
    ValueError
        If the shapes differ.
    """
    if dose_gy.shape != mask.shape:
        raise ValueError(f"dose grid {dose_gy.shape} and mask {mask.shape} differ in shape")
    values = np.asarray(dose_gy[mask], dtype=np.float64)
    if values.size == 0:
        raise EmptyRegionError("the region has no voxel on the dose grid")
    return np.sort(values)[::-1]


def dose_at_volume(sorted_desc_gy: FloatArray, percent: float) -> float:
    """D_x: the minimum dose to the hottest ``percent`` % of the volume, Gy.

    Parameters
    ----------
    sorted_desc_gy : ndarray
        Region voxel doses in descending order (:func:`region_doses`), Gy.
    percent : float
        Volume percentage ``x``, 0 < x <= 100.
    """
    if not 0.0 < percent <= 100.0:
        raise ValueError(f"volume percentage must be in (0, 100], got {percent}")
    n = sorted_desc_gy.size
    # Rounded to 9 digits so that 70 % of 10 voxels is 7 voxels, not 7.000000000000001.
    k = max(1, math.ceil(round(percent * n / 100.0, 9)))
    return float(sorted_desc_gy[k - 1])


def volume_at_dose(sorted_desc_gy: FloatArray, dose_gy: float) -> float:
    """V_y: percentage of the region's voxels receiving at least ``dose_gy`` Gy, %."""
    ascending = sorted_desc_gy[::-1]
    at_least = ascending.size - int(np.searchsorted(ascending, dose_gy, side="left"))
    return 100.0 * at_least / ascending.size


def cumulative_dvh(sorted_desc_gy: FloatArray, levels_gy: Sequence[float] | FloatArray
                   ) -> FloatArray:
    """Cumulative DVH: V(d) in % for each dose level ``d`` (at least ``d`` Gy)."""
    ascending = sorted_desc_gy[::-1]
    below = np.searchsorted(ascending, np.asarray(levels_gy, dtype=np.float64), side="left")
    return np.asarray(100.0 * (ascending.size - below) / ascending.size, dtype=np.float64)


def dvh_levels(max_gy: float, bin_width_gy: float) -> FloatArray:
    """Dose levels 0, w, 2w, ... up to the first level above ``max_gy``, Gy."""
    if bin_width_gy <= 0.0:
        raise ValueError("bin width must be positive")
    count = math.floor(max_gy / bin_width_gy) + 2
    return np.arange(count, dtype=np.float64) * bin_width_gy


def region_dose(name: str, dose_gy: NDArray[np.floating], mask: NDArray[np.bool_],
                voxel_ml: float) -> RegionDose:
    """Mean dose, D50/D70/D90/D95 and V70/V100/V120/V205 of one region.

    Parameters
    ----------
    name : str
        Region name.
    dose_gy : ndarray
        Dose grid, Gy.
    mask : ndarray of bool
        The region on the dose grid.
    voxel_ml : float
        Volume of one dose-grid voxel, mL.

    Returns
    -------
    RegionDose
        The figures (conventions in the module docstring).
    """
    doses = region_doses(dose_gy, mask)
    d50, d70, d90, d95 = (dose_at_volume(doses, p) for p in D_PERCENTS)
    v70, v100, v120, v205 = (volume_at_dose(doses, g) for g in V_DOSES_GY)
    return RegionDose(name=name, volume_ml=doses.size * voxel_ml, mean_gy=float(doses.mean()),
                      d50_gy=d50, d70_gy=d70, d90_gy=d90, d95_gy=d95, v70_percent=v70,
                      v100_percent=v100, v120_percent=v120, v205_percent=v205,
                      max_gy=float(doses[0]))
