"""Trivial synthetic cases (a bright ellipsoid organ with a dark round lesion) for test models.

Used to train the tiny two-fold models that the engine's tests run; they say nothing about
clinical accuracy.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

TOY_SHAPE_ZYX: tuple[int, int, int] = (24, 40, 40)
"""Array shape (z, y, x) of a toy case."""

TOY_SPACING_MM: tuple[float, float, float] = (3.0, 2.0, 2.0)
"""Voxel spacing (z, y, x) in mm of a toy case (anisotropic on purpose)."""

ORGAN_LABEL = 1
"""Label value of the ellipsoid organ (stands for the liver)."""

LESION_LABEL = 2
"""Label value of the lesion inside the organ (stands for a metastasis)."""


def toy_case(
    seed: int,
    shape_zyx: tuple[int, int, int] = TOY_SHAPE_ZYX,
    spacing_mm: tuple[float, float, float] = TOY_SPACING_MM,
) -> tuple[NDArray[np.float32], NDArray[np.uint8]]:
    """Render one toy case.

    The organ is an off-centre ellipsoid of 140 HU on a -100 HU body with noise; the lesion a
    sphere of 60 HU, 7-10 mm radius, inside it. The organ sits in the upper-left part of the
    volume (low y, low x), so that a flipped axis or slice order is visible in the prediction.

    Parameters
    ----------
    seed : int
        Random seed (positions, sizes, noise).
    shape_zyx : tuple of int
        Array shape (z, y, x).
    spacing_mm : tuple of float
        Spacing (z, y, x) in mm.

    Returns
    -------
    hu : ndarray of float32, shape (z, y, x)
        Hounsfield units.
    labels : ndarray of uint8, shape (z, y, x)
        0 background, 1 organ, 2 lesion.
    """
    rng = np.random.default_rng(seed)
    shape = np.asarray(shape_zyx)
    spacing = np.asarray(spacing_mm, dtype=float)
    extent = shape * spacing
    axes = [(np.arange(n) + 0.5) * s for n, s in zip(shape, spacing, strict=True)]
    zz, yy, xx = np.meshgrid(*axes, indexing="ij")
    centre = extent * np.array([0.5, 0.38, 0.38]) + rng.uniform(-4.0, 4.0, 3)
    radii = extent * np.array([0.30, 0.24, 0.26]) * rng.uniform(0.85, 1.1, 3)
    organ = (((zz - centre[0]) / radii[0]) ** 2 + ((yy - centre[1]) / radii[1]) ** 2
             + ((xx - centre[2]) / radii[2]) ** 2) <= 1.0
    lesion_centre = centre + rng.uniform(-0.25, 0.25, 3) * radii
    lesion_radius = float(rng.uniform(7.0, 10.0))
    lesion = organ & (((zz - lesion_centre[0]) ** 2 + (yy - lesion_centre[1]) ** 2
                       + (xx - lesion_centre[2]) ** 2) <= lesion_radius ** 2)
    hu = np.full(tuple(shape), -100.0, dtype=np.float32)
    hu[organ] = 140.0
    hu[lesion] = 60.0
    hu += np.asarray(rng.normal(0.0, 10.0, hu.shape), dtype=np.float32)
    labels = np.zeros(tuple(shape), dtype=np.uint8)
    labels[organ] = ORGAN_LABEL
    labels[lesion] = LESION_LABEL
    return hu, labels
