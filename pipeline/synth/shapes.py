"""Analytic solids in patient coordinates (LPS, mm) that the phantom is built from.

Every solid has an axis-aligned bounding box (used to skip points far from it) and an
inside test over an ``(n, 3)`` array of points ``(x, y, z)`` in mm.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]


def rotation_matrix(yaw_deg: float = 0.0, pitch_deg: float = 0.0,
                    roll_deg: float = 0.0) -> FloatArray:
    """Rotation whose columns are the local axes expressed in patient coordinates.

    Parameters
    ----------
    yaw_deg, pitch_deg, roll_deg : float
        Rotations in degrees about the patient z (superior), y (posterior) and x (left)
        axes, applied in that order (z first).

    Returns
    -------
    ndarray, shape (3, 3)
        Orthonormal rotation matrix.
    """
    a, b, c = np.deg2rad([yaw_deg, pitch_deg, roll_deg])
    rz = np.array([[np.cos(a), -np.sin(a), 0], [np.sin(a), np.cos(a), 0], [0, 0, 1]])
    ry = np.array([[np.cos(b), 0, np.sin(b)], [0, 1, 0], [-np.sin(b), 0, np.cos(b)]])
    rx = np.array([[1, 0, 0], [0, np.cos(c), -np.sin(c)], [0, np.sin(c), np.cos(c)]])
    return np.asarray(rx @ ry @ rz, dtype=np.float64)


@dataclass(frozen=True)
class Ellipsoid:
    """A solid ellipsoid.

    Parameters
    ----------
    centre : ndarray, shape (3,)
        Centre (x, y, z) in mm.
    semi_axes : ndarray, shape (3,)
        Semi-axis lengths in mm along the local axes.
    rotation : ndarray, shape (3, 3)
        Columns are the local axes in patient coordinates.
    """

    centre: FloatArray
    semi_axes: FloatArray
    rotation: FloatArray

    @cached_property
    def bbox(self) -> tuple[FloatArray, FloatArray]:
        """Axis-aligned bounding box (min xyz, max xyz) in mm."""
        half = np.sqrt(((self.rotation * self.semi_axes[None, :]) ** 2).sum(axis=1))
        return self.centre - half, self.centre + half

    @property
    def volume_ml(self) -> float:
        """Exact volume in mL."""
        return float(4.0 / 3.0 * np.pi * np.prod(self.semi_axes)) / 1000.0

    def radius2(self, points: FloatArray) -> FloatArray:
        """Squared normalised radius: < 1 inside, 1 on the surface.

        Parameters
        ----------
        points : ndarray, shape (n, 3)
            Points in mm.
        """
        m, offset = self._affine
        local = points @ m
        local -= offset
        return np.asarray(np.einsum("ij,ij->i", local, local), dtype=np.float64)

    @cached_property
    def _affine(self) -> tuple[FloatArray, FloatArray]:
        """Matrix and offset taking patient points to unit-sphere coordinates."""
        m = self.rotation / self.semi_axes[None, :]
        return m, self.centre @ m

    def contains(self, points: FloatArray) -> BoolArray:
        """Whether each point lies inside (surface included)."""
        return np.asarray(self.radius2(points) <= 1.0)


@dataclass(frozen=True)
class Capsule:
    """A tapered tube segment: points within ``r(t)`` of the segment from ``start`` to ``end``.

    Parameters
    ----------
    start, end : ndarray, shape (3,)
        End points in mm.
    radius_start, radius_end : float
        Radius in mm at each end (linear in between, round caps).
    """

    start: FloatArray
    end: FloatArray
    radius_start: float
    radius_end: float

    @cached_property
    def bbox(self) -> tuple[FloatArray, FloatArray]:
        """Axis-aligned bounding box (min xyz, max xyz) in mm."""
        r = max(self.radius_start, self.radius_end)
        return np.minimum(self.start, self.end) - r, np.maximum(self.start, self.end) + r

    def contains(self, points: FloatArray) -> BoolArray:
        """Whether each point lies inside the tube."""
        axis = self.end - self.start
        length2 = float(axis @ axis)
        t = np.clip((points - self.start) @ axis / max(length2, 1e-12), 0.0, 1.0)
        nearest = self.start + t[:, None] * axis
        d2 = np.einsum("ij,ij->i", points - nearest, points - nearest)
        r = self.radius_start + t * (self.radius_end - self.radius_start)
        return np.asarray(d2 <= r * r)


def tube(path: FloatArray, radii: FloatArray) -> list[Capsule]:
    """Capsules along a polyline.

    Parameters
    ----------
    path : ndarray, shape (n, 3)
        Vertices in mm.
    radii : ndarray, shape (n,)
        Radius at each vertex in mm.

    Returns
    -------
    list of Capsule
        One capsule per polyline segment.
    """
    return [Capsule(np.asarray(path[i], float), np.asarray(path[i + 1], float),
                    float(radii[i]), float(radii[i + 1])) for i in range(len(path) - 1)]


def points_box(points: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Axis-aligned box (min, max) of an ``(n, 3)`` point array."""
    cols = [points[:, a] for a in range(3)]
    return (np.array([c.min() for c in cols]), np.array([c.max() for c in cols]))


def inside_bbox(points: FloatArray, box: tuple[FloatArray, FloatArray]) -> NDArray[np.intp]:
    """Indices of the points inside an axis-aligned box (min, max)."""
    lo, hi = box
    x = points[:, 0]
    sel = np.flatnonzero((x >= lo[0]) & (x <= hi[0]))
    for axis in (1, 2):
        c = points[sel, axis]
        sel = sel[(c >= lo[axis]) & (c <= hi[axis])]
    return sel


def mask_of(solid: Ellipsoid | Capsule, points: FloatArray,
            points_box: tuple[FloatArray, FloatArray] | None = None) -> BoolArray:
    """Inside test of ``solid`` that skips the points outside its bounding box.

    Parameters
    ----------
    solid : Ellipsoid or Capsule
        The solid.
    points : ndarray, shape (n, 3)
        Points in mm.
    points_box : tuple of ndarray, optional
        A box (min, max) known to contain all points: a solid outside it is skipped at once.
    """
    out = np.zeros(len(points), dtype=bool)
    if points_box is not None and not boxes_overlap(points_box, solid.bbox):
        return out
    sel = inside_bbox(points, solid.bbox)
    if sel.size:
        out[sel] = solid.contains(points[sel])
    return out


def boxes_overlap(a: tuple[FloatArray, FloatArray], b: tuple[FloatArray, FloatArray]) -> bool:
    """Whether two axis-aligned boxes (min, max) intersect."""
    (alo, ahi), (blo, bhi) = a, b
    return bool(alo[0] <= bhi[0] and blo[0] <= ahi[0] and alo[1] <= bhi[1]
                and blo[1] <= ahi[1] and alo[2] <= bhi[2] and blo[2] <= ahi[2])
