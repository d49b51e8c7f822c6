"""NIfTI input and output for the command line (CT volume in, label maps out).

SimpleITK reads NIfTI into patient LPS with (z, y, x) arrays. A volume whose third axis
points against the slice normal (row x column cosine) is flipped so that slices ascend
along the normal, as :class:`pipeline.volume.CTVolume` requires; outputs are written on the
CTVolume's grid and so occupy the same physical space as the input.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import SimpleITK as sitk  # noqa: N813
from numpy.typing import NDArray

from pipeline.volume import CTVolume


def read_nifti_volume(path: Path, slice_thickness_mm: float | None = None) -> CTVolume:
    """Read a CT NIfTI file (values in HU) as a CTVolume.

    Parameters
    ----------
    path : Path
        ``.nii`` or ``.nii.gz`` file.
    slice_thickness_mm : float, optional
        Slice thickness to record (default: the slice spacing).

    Returns
    -------
    CTVolume
        The volume; UIDs are empty (no DICOM source).
    """
    image = sitk.ReadImage(str(path))
    if image.GetDimension() != 3:
        raise ValueError(f"{path}: expected a 3-D image, got {image.GetDimension()}-D")
    hu = sitk.GetArrayFromImage(image).astype(np.float32)
    direction = np.asarray(image.GetDirection(), float).reshape(3, 3)
    sx, sy, sz = image.GetSpacing()
    origin = np.asarray(image.GetOrigin(), float)
    row, col, stack = direction[:, 0], direction[:, 1], direction[:, 2]
    if float(np.dot(np.cross(row, col), stack)) < 0:
        hu = hu[::-1].copy()
        origin = origin + stack * sz * (hu.shape[0] - 1)
    return CTVolume(
        hu=hu, spacing_mm=(float(sz), float(sy), float(sx)),
        origin_mm=(float(origin[0]), float(origin[1]), float(origin[2])),
        row_cosine=(float(row[0]), float(row[1]), float(row[2])),
        column_cosine=(float(col[0]), float(col[1]), float(col[2])),
        sop_instance_uids=[], series_instance_uid="", study_instance_uid="",
        frame_of_reference_uid="",
        slice_thickness_mm=float(slice_thickness_mm if slice_thickness_mm else sz))


def write_on_volume_grid(array: NDArray[np.generic], volume: CTVolume, path: Path) -> None:
    """Write a (z, y, x) array as NIfTI on the grid of ``volume``.

    Parameters
    ----------
    array : ndarray, shape (z, y, x)
        Voxel values (e.g. a label map).
    volume : CTVolume
        The grid (spacing, origin, orientation).
    path : Path
        Output file.
    """
    if array.shape != volume.shape:
        raise ValueError(f"array shape {array.shape} differs from the volume's {volume.shape}")
    image = sitk.GetImageFromArray(array)
    dz, dy, dx = volume.spacing_mm
    image.SetSpacing((dx, dy, dz))
    image.SetOrigin(volume.origin_mm)
    direction = np.column_stack([volume.row_cosine, volume.column_cosine, volume.normal])
    image.SetDirection(tuple(float(v) for v in direction.ravel()))
    sitk.WriteImage(image, str(path), useCompression=True)
