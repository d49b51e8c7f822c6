"""Voxel-grid helpers shared by cascades and post-processing."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from pipeline.labelling import label


def bounding_box(mask: NDArray[np.bool_], spacing_mm: Sequence[float],
                 margin_mm: float) -> tuple[slice, slice, slice] | None:
    """Bounding box of a mask grown by a margin, clipped to the array.

    Parameters
    ----------
    mask : ndarray of bool, shape (z, y, x)
        The mask.
    spacing_mm : sequence of float
        Voxel spacing (z, y, x) in mm.
    margin_mm : float
        Margin added on every side, mm (rounded up to whole voxels per axis).

    Returns
    -------
    tuple of slice or None
        Index slices (z, y, x), or None where the mask is empty.
    """
    if not mask.any():
        return None
    out = []
    for axis, spacing in enumerate(spacing_mm):
        other = tuple(a for a in range(3) if a != axis)
        idx = np.flatnonzero(mask.any(axis=other))
        pad = int(np.ceil(margin_mm / float(spacing)))
        out.append(slice(max(0, int(idx[0]) - pad), min(mask.shape[axis], int(idx[-1]) + 1 + pad)))
    return out[0], out[1], out[2]


def dice(a: NDArray[np.bool_], b: NDArray[np.bool_]) -> float:
    """Sørensen-Dice coefficient of two masks; 1.0 when both are empty.

    Parameters
    ----------
    a, b : ndarray of bool
        Masks of equal shape.

    Returns
    -------
    float
        2|A∩B| / (|A|+|B|), in [0, 1].
    """
    total = int(a.sum()) + int(b.sum())
    if total == 0:
        return 1.0
    return 2.0 * float(np.logical_and(a, b).sum()) / total


def canonical_flips(row_cosine: Sequence[float], column_cosine: Sequence[float]
                    ) -> tuple[int, ...]:
    """Array axes (of a (z, y, x) volume) to flip so that x, y and z ascend along +x, +y
    and +z of the patient (LPS), as in a supine head-first axial series.

    Networks are trained on arrays of one orientation; a prone or feet-first series read in
    its stored order shows them mirrored anatomy. Only the sign of each axis' dominant
    patient direction is used (a flip, never a resampling).

    Parameters
    ----------
    row_cosine, column_cosine : sequence of float
        Image Orientation (Patient): direction of increasing x and y, unit vectors.

    Returns
    -------
    tuple of int
        Axes to flip with :func:`numpy.flip`; flipping again restores the original order.
    """
    row = np.asarray(row_cosine, float)
    column = np.asarray(column_cosine, float)
    normal = np.cross(row, column)  # slices ascend along the normal (see CTVolume)
    axes = [axis for axis, direction in ((0, normal), (1, column), (2, row))
            if direction[int(np.argmax(np.abs(direction)))] < 0]
    return tuple(axes)


_COUNT_CHUNK = 1 << 20
"""Values counted per call of np.bincount in :func:`value_counts` (8 MB of int64)."""


def value_counts(values: NDArray[np.integer], minlength: int = 0) -> NDArray[np.intp]:
    """``np.bincount(values.ravel(), minlength=minlength)``, one chunk at a time.

    np.bincount converts its input to int64 first: 8 bytes per voxel (630 MB for a
    512x512x300 uint8 label map, most of the call's time spent faulting fresh pages in).
    Chunks of a million values reuse one small buffer; the counts are the same.

    Parameters
    ----------
    values : ndarray of non-negative int
        Values to count (any shape).
    minlength : int
        Minimum length of the result.

    Returns
    -------
    ndarray of intp
        Count of each value ``0 .. max(values.max(), minlength - 1)``.
    """
    flat = values.reshape(-1)
    counts = np.zeros(minlength, np.intp)
    for start in range(0, flat.size, _COUNT_CHUNK):
        part = np.bincount(flat[start:start + _COUNT_CHUNK], minlength=counts.size)
        if part.size > counts.size:
            part[:counts.size] += counts
            counts = part
        else:
            counts += part
    return counts


def enclosed_background(mask: NDArray[np.bool_]) -> NDArray[np.bool_]:
    """Background voxels not face-connected to the array's border: the voxels
    ``scipy.ndimage.binary_fill_holes(mask)`` adds (``binary_fill_holes(mask) & ~mask``).

    scipy grows the outside from the border one voxel layer per pass (a pass over the whole
    array for each layer: seconds on a liver's box). Labelling the background once and
    keeping the components that touch no face gives the same voxels in one pass, with an
    int32 label array as the only temporary.

    Parameters
    ----------
    mask : ndarray of bool, shape (z, y, x)
        The mask.

    Returns
    -------
    ndarray of bool
        The enclosed background (the holes).
    """
    labels, n = label(~mask)  # face connectivity, as binary_fill_holes
    if n == 0:
        return np.zeros_like(mask)
    outside = np.zeros(n + 1, dtype=bool)
    outside[0] = True  # label 0 is the mask itself
    for axis in range(labels.ndim):
        for end in (0, -1):
            outside[np.take(labels, end, axis=axis)] = True
    return np.asarray(~outside[labels])
