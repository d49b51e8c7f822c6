"""Analytic shapes on voxel grids for the metric tests."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray


def coordinates(shape: Sequence[int], spacing_mm: Sequence[float]
                ) -> tuple[NDArray[np.float64], ...]:
    """Voxel-centre coordinates (z, y, x) in mm, origin at voxel 0."""
    axes = [np.arange(n) * s for n, s in zip(shape, spacing_mm, strict=True)]
    return tuple(np.meshgrid(*axes, indexing="ij"))


def ball(shape: Sequence[int], centre_mm: Sequence[float], radius_mm: float,
         spacing_mm: Sequence[float] = (1.0, 1.0, 1.0)) -> NDArray[np.bool_]:
    """Voxels whose centre lies within ``radius_mm`` of ``centre_mm``."""
    z, y, x = coordinates(shape, spacing_mm)
    cz, cy, cx = centre_mm
    return np.asarray((z - cz) ** 2 + (y - cy) ** 2 + (x - cx) ** 2 <= radius_mm ** 2)


def torus(shape: Sequence[int], centre: Sequence[float], major: float,
          minor: float) -> NDArray[np.bool_]:
    """Solid torus around the z axis through ``centre`` (voxel units)."""
    z, y, x = coordinates(shape, (1.0, 1.0, 1.0))
    rho = np.hypot(y - centre[1], x - centre[2])
    return np.asarray((rho - major) ** 2 + (z - centre[0]) ** 2 <= minor ** 2)


def tube(shape: Sequence[int], radius: float, x_range: tuple[float, float]
         ) -> NDArray[np.bool_]:
    """Straight cylinder along x through the centre of the y-z plane (voxel units)."""
    z, y, x = coordinates(shape, (1.0, 1.0, 1.0))
    cz, cy = (shape[0] - 1) / 2.0, (shape[1] - 1) / 2.0
    return np.asarray(((z - cz) ** 2 + (y - cy) ** 2 <= radius ** 2)
                      & (x >= x_range[0]) & (x <= x_range[1]))


def sphere_cap_overlap(radius: float, distance: float) -> float:
    """Volume of the intersection of two balls of equal radius at a centre distance."""
    if distance >= 2 * radius:
        return 0.0
    return float(np.pi * (4 * radius + distance) * (2 * radius - distance) ** 2 / 12.0)
