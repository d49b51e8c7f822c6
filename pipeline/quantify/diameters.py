"""RECIST 1.1 style axial diameters of a lesion: longest in-plane diameter and short axis.

The outline of a lesion's cross-section in one axial slice is the set of midpoints of the
pixel edges between lesion and background pixels (the 0.5 iso-line of the binary image at
those edges). The longest diameter is the largest distance between two outline points (the
maximum Feret diameter, taken over the convex hull); the short axis is the extent of the
outline perpendicular to it in the same slice (the Feret width perpendicular to the long
axis). Both are in mm, with the row and column spacings applied, so anisotropic pixels are
measured correctly. For a digital disc or ellipse both agree with the analytic diameters to
within one pixel.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy.spatial import ConvexHull, QhullError
from scipy.spatial.distance import pdist, squareform


@dataclass(frozen=True)
class AxialDiameters:
    """Diameters of a lesion in the axial slice where its in-plane diameter is largest.

    Parameters
    ----------
    long_axis_mm : float
        Longest in-plane diameter, mm.
    short_axis_mm : float
        Extent perpendicular to the long axis in the same slice, mm.
    slice_index : int
        Index (z) of that slice in the array the mask was cut from.
    """

    long_axis_mm: float
    short_axis_mm: float
    slice_index: int


def outline_points_mm(mask2d: NDArray[np.bool_], spacing_yx: tuple[float, float]
                      ) -> NDArray[np.float64]:
    """Midpoints of the boundary pixel edges of a 2-D mask, (row, column) in mm.

    Parameters
    ----------
    mask2d : ndarray of bool, shape (y, x)
        One axial slice of the lesion.
    spacing_yx : tuple of float
        Row spacing and column spacing, mm.
    """
    padded = np.pad(mask2d, 1)
    across_rows = padded[1:, :] != padded[:-1, :]
    across_cols = padded[:, 1:] != padded[:, :-1]
    r1, c1 = np.nonzero(across_rows)
    r2, c2 = np.nonzero(across_cols)
    # Padded index p -> original index p - 1; an edge between p-1 and p lies at p - 1.5.
    rows = np.concatenate([r1 - 0.5, r2 - 1.0])
    cols = np.concatenate([c1 - 1.0, c2 - 0.5])
    return np.column_stack([rows * spacing_yx[0], cols * spacing_yx[1]])


def feret_diameters(points: NDArray[np.float64]) -> tuple[float, float]:
    """Maximum Feret diameter and the Feret width perpendicular to it, same unit as points.

    Parameters
    ----------
    points : ndarray, shape (n, 2)
        Outline points.
    """
    try:
        hull = points[ConvexHull(points).vertices]
    except (QhullError, ValueError):  # collinear or fewer than three points
        hull = points
    if len(hull) < 2:
        return 0.0, 0.0
    dist = squareform(pdist(hull))
    i, j = np.unravel_index(int(np.argmax(dist)), dist.shape)
    longest = float(dist[i, j])
    axis = (hull[j] - hull[i]) / longest
    normal = np.array([-axis[1], axis[0]])
    proj = points @ normal
    return longest, float(proj.max() - proj.min())


def axial_diameters(mask: NDArray[np.bool_], spacing_mm: tuple[float, float, float]
                    ) -> AxialDiameters:
    """Longest axial diameter over all slices of a lesion and its perpendicular short axis.

    Parameters
    ----------
    mask : ndarray of bool, shape (z, y, x)
        The lesion (may be a crop around it); must not be empty.
    spacing_mm : tuple of float
        Voxel spacing (z, y, x), mm.

    Returns
    -------
    AxialDiameters
        ``slice_index`` counts in ``mask``'s own z axis.
    """
    best = AxialDiameters(-1.0, 0.0, -1)
    for z in np.flatnonzero(mask.any(axis=(1, 2))):
        points = outline_points_mm(mask[z], (spacing_mm[1], spacing_mm[2]))
        longest, width = feret_diameters(points)
        if longest > best.long_axis_mm:
            best = AxialDiameters(longest, width, int(z))
    if best.slice_index < 0:
        raise ValueError("empty lesion mask")
    return best
