"""The CT volume every stage after series selection works on.

Axis order is (z, y, x) = (slice, row, column). Slices are sorted by position along the
slice normal (row cosine x column cosine), ascending; ``sop_instance_uids[k]`` is the source
image of slice ``k`` (with ``frame_numbers[k]``, its frame, where the source is a multi-frame
image). That order is kept from input to DICOM-SEG.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray


@dataclass(frozen=True)
class CTVolume:
    """A CT series as a 3-D array of Hounsfield units on its native grid.

    Parameters
    ----------
    hu : ndarray of float32, shape (z, y, x)
        Hounsfield units (rescale slope/intercept applied per slice).
    spacing_mm : tuple[float, float, float]
        Voxel spacing (z, y, x) in mm: slice spacing along the normal, row spacing
        (PixelSpacing[0], between rows), column spacing (PixelSpacing[1]).
    origin_mm : tuple[float, float, float]
        ImagePositionPatient (x, y, z) of the first slice's first pixel, patient LPS, mm.
    row_cosine, column_cosine : tuple[float, float, float]
        ImageOrientationPatient: direction of increasing column index (along a row), and of
        increasing row index (down a column), in patient LPS.
    sop_instance_uids : list[str]
        SOP Instance UID of the source image of each slice, in slice order.
    series_instance_uid, study_instance_uid, frame_of_reference_uid : str
        The source series' identifiers.
    slice_thickness_mm : float
        SliceThickness of the source images, mm (may differ from the slice spacing).
    source_paths : list[str]
        Files the slices were read from, in slice order (empty where built in memory).
    frame_numbers : list[int]
        Frame Number (1-based) of each slice in its multi-frame source image (Enhanced or
        Legacy Converted Enhanced CT), 0 for a single-frame source; empty when every source
        is a single-frame image.
    """

    hu: NDArray[np.float32]
    spacing_mm: tuple[float, float, float]
    origin_mm: tuple[float, float, float]
    row_cosine: tuple[float, float, float]
    column_cosine: tuple[float, float, float]
    sop_instance_uids: list[str]
    series_instance_uid: str
    study_instance_uid: str
    frame_of_reference_uid: str
    slice_thickness_mm: float
    source_paths: list[str] = field(default_factory=list)
    frame_numbers: list[int] = field(default_factory=list)

    @property
    def shape(self) -> tuple[int, int, int]:
        """Array shape (z, y, x)."""
        z, y, x = self.hu.shape
        return (z, y, x)

    @property
    def normal(self) -> NDArray[np.float64]:
        """Unit slice normal (row cosine x column cosine), patient LPS."""
        n = np.cross(np.asarray(self.row_cosine, float), np.asarray(self.column_cosine, float))
        return np.asarray(n / np.linalg.norm(n), dtype=np.float64)

    @property
    def voxel_volume_ml(self) -> float:
        """Volume of one voxel in mL (mm^3 / 1000)."""
        return float(np.prod(self.spacing_mm)) / 1000.0

    def affine(self) -> NDArray[np.float64]:
        """4x4 matrix mapping homogeneous (z, y, x) indices to patient LPS (x, y, z) in mm."""
        dz, dy, dx = self.spacing_mm
        a = np.eye(4)
        a[:3, 0] = self.normal * dz
        a[:3, 1] = np.asarray(self.column_cosine, float) * dy
        a[:3, 2] = np.asarray(self.row_cosine, float) * dx
        a[:3, 3] = self.origin_mm
        return a

    def index_to_patient(self, zyx: NDArray[np.float64]) -> NDArray[np.float64]:
        """Patient LPS coordinates (mm) of voxel indices.

        Parameters
        ----------
        zyx : ndarray, shape (n, 3)
            Voxel indices (z, y, x), fractional allowed.

        Returns
        -------
        ndarray, shape (n, 3)
            Patient coordinates (x, y, z) in mm.
        """
        pts = np.asarray(zyx, dtype=float)
        return np.asarray(pts @ self.affine()[:3, :3].T + self.affine()[:3, 3], dtype=np.float64)
