"""Where a nuclear-medicine acquisition sees the patient: its own frame of reference.

A SPECT/CT or PET/CT is acquired on another day and another table than the planning CT, so
its images live in their own FrameOfReferenceUID and the patient lies slightly differently.
The synthetic studies model this as one KNOWN rigid transform per NM/PET study
(:class:`Misregistration`), from planning-CT patient coordinates (the phantom's frame, LPS mm)
to the NM/PET study's patient coordinates (LPS mm):

``p_nm = R (p_plan - c) + c + t``

with ``R`` the rotation given by ``rotation_deg`` as extrinsic rotations about the patient
x, then y, then z axes (``scipy.spatial.transform.Rotation.from_euler("xyz", ...)``), ``c``
the centre of rotation (the liver's bounding-box centre) and ``t`` the translation.

This is the transform a registration with the planning CT as fixed image and the NM/PET's
CT as moving image recovers (SimpleITK's convention: the transform maps fixed-image points
to moving-image points). The emission image and its CT share the NM/PET frame exactly (no
emission/CT misregistration inside one study).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.spatial.transform import Rotation

from .phantom import Phantom
from .render import Grid
from .shapes import FloatArray


@dataclass(frozen=True)
class Misregistration:
    """A rigid transform from planning-CT to NM/PET patient coordinates.

    Parameters
    ----------
    translation_mm : tuple of float
        ``t``, mm (patient x, y, z).
    rotation_deg : tuple of float
        Extrinsic rotations about the patient x, y and z axes (applied in that order), degrees.
    centre_mm : tuple of float
        Centre of rotation ``c`` in planning-CT coordinates, mm.
    """

    translation_mm: tuple[float, float, float]
    rotation_deg: tuple[float, float, float]
    centre_mm: tuple[float, float, float]

    @property
    def rotation(self) -> FloatArray:
        """The 3x3 rotation matrix ``R``."""
        return np.asarray(Rotation.from_euler("xyz", self.rotation_deg, degrees=True)
                          .as_matrix())

    def matrix(self) -> FloatArray:
        """The 4x4 homogeneous matrix mapping planning-CT (x, y, z, 1) to NM/PET coordinates."""
        r = self.rotation
        c = np.asarray(self.centre_mm, float)
        m = np.eye(4)
        m[:3, :3] = r
        m[:3, 3] = c - r @ c + np.asarray(self.translation_mm, float)
        return m

    def to_planning(self, points_nm: FloatArray) -> FloatArray:
        """Map NM/PET patient coordinates (n, 3) back to planning-CT coordinates, mm."""
        m = self.matrix()
        return np.asarray((np.asarray(points_nm, float) - m[:3, 3]) @ m[:3, :3])

    def grid_in_planning(self, grid: Grid) -> Grid:
        """The same voxels as ``grid`` (given in NM/PET coordinates) in planning coordinates.

        Rendering the phantom on the returned grid gives the image the NM/PET scanner sees.
        """
        r_t = self.rotation.T
        origin = self.to_planning(np.asarray([grid.origin_mm]))[0]
        row = r_t @ np.asarray(grid.row_cosine, float)
        col = r_t @ np.asarray(grid.column_cosine, float)
        return Grid(grid.shape_zyx, grid.spacing_zyx_mm,
                    (float(origin[0]), float(origin[1]), float(origin[2])),
                    (float(row[0]), float(row[1]), float(row[2])),
                    (float(col[0]), float(col[1]), float(col[2])))

    def to_json(self) -> dict[str, object]:
        """The truth entry (``misregistration`` in ``truth/dosimetry.json``)."""
        return {"translation_mm": [round(v, 4) for v in self.translation_mm],
                "rotation_deg": [round(v, 4) for v in self.rotation_deg],
                "rotation_convention": "extrinsic x, then y, then z (scipy from_euler 'xyz')",
                "centre_mm": [round(v, 4) for v in self.centre_mm],
                "planning_to_nm_matrix": [[float(v) for v in row] for row in self.matrix()],
                "direction": "p_nm = R (p_plan - centre) + centre + translation"}


def draw_misregistration(phantom: Phantom, rng: np.random.Generator) -> Misregistration:
    """A random patient repositioning: 4-12 mm translation, 2-5 degrees of rotation.

    The translation has a random direction and a length drawn uniformly in 4-12 mm; the
    rotation is mostly about the head-foot axis (yaw, 2-5 degrees, random sign) with up to
    1.5 degrees about each of the other axes. The centre is the liver's bounding-box centre.
    """
    direction = rng.normal(size=3)
    direction /= np.linalg.norm(direction)
    t = direction * rng.uniform(4.0, 12.0)
    yaw = rng.uniform(2.0, 5.0) * (1 if rng.random() < 0.5 else -1)
    rx, ry = rng.uniform(-1.5, 1.5, size=2)
    lo, hi = phantom.liver_bbox
    c = (np.asarray(lo) + np.asarray(hi)) / 2.0
    return Misregistration((float(t[0]), float(t[1]), float(t[2])),
                           (float(rx), float(ry), float(yaw)),
                           (float(c[0]), float(c[1]), float(c[2])))


def axial_grid(centre_mm: FloatArray, matrix: int, pixel_mm: float, n_slices: int,
               slice_mm: float) -> Grid:
    """An axial grid (IOP 1,0,0 / 0,1,0, slices ascending in z) centred on ``centre_mm``.

    Parameters
    ----------
    centre_mm : ndarray, shape (3,)
        Centre of the grid, mm.
    matrix : int
        Rows = Columns.
    pixel_mm, slice_mm : float
        In-plane pixel size and slice spacing, mm.
    n_slices : int
        Number of slices.
    """
    c = np.asarray(centre_mm, float)
    origin = c - np.array([(matrix - 1) / 2 * pixel_mm, (matrix - 1) / 2 * pixel_mm,
                           (n_slices - 1) / 2 * slice_mm])
    return Grid((n_slices, matrix, matrix), (slice_mm, pixel_mm, pixel_mm),
                (float(origin[0]), float(origin[1]), float(origin[2])))


def slices_to_cover(z_range_mm: tuple[float, float], slice_mm: float) -> int:
    """Number of slices of spacing ``slice_mm`` covering ``z_range_mm`` (at least one)."""
    return max(1, math.ceil((z_range_mm[1] - z_range_mm[0]) / slice_mm) + 1)
