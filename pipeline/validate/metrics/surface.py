"""Surface distances between a predicted and a reference mask, in mm.

A mask's surface is its voxels with a face neighbour outside the mask (voxels on the array
border count as surface). The distance of a surface voxel to the other surface is the
Euclidean distance between voxel centres with the voxel spacing (SciPy's exact distance
transform). Distances in both directions are used:

- ``hd_mm``: Hausdorff distance, the largest of all of them;
- ``hd95_mm``: the larger of the two directed 95th percentiles (linear interpolation), as
  MONAI and DeepMind's surface-distance compute it;
- ``msd_mm``: mean (average symmetric) surface distance, the mean of both sets pooled;
- ``nsd``: normalised surface distance (surface Dice) at a tolerance: the fraction of
  surface voxels of both masks within the tolerance of the other surface (voxel counts,
  not surfel areas).

Empty masks: both empty -> distances 0 mm, NSD 1. One empty -> distances NaN (undefined),
NSD 0.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray
from scipy import ndimage

from pipeline.validate.metrics.crop import crop_to_union

_FACES = ndimage.generate_binary_structure(3, 1)


def surface_voxels(mask: NDArray[np.bool_]) -> NDArray[np.bool_]:
    """Voxels of ``mask`` with at least one face neighbour outside it (or outside the array)."""
    eroded = ndimage.binary_erosion(mask, structure=_FACES, border_value=0)
    return np.asarray(mask & ~eroded)


def directed_distances(a_surface: NDArray[np.bool_], b_surface: NDArray[np.bool_],
                       spacing_mm: Sequence[float]) -> NDArray[np.float64]:
    """Distance of every surface voxel of A to the nearest surface voxel of B, mm.

    Parameters
    ----------
    a_surface, b_surface : ndarray of bool, shape (z, y, x)
        Surface voxels of A and B (B not empty).
    spacing_mm : sequence of float
        Voxel spacing (z, y, x), mm.

    Returns
    -------
    ndarray of float64
        One distance per surface voxel of A (array order).
    """
    dist = ndimage.distance_transform_edt(~b_surface, sampling=tuple(float(s) for s in spacing_mm))
    return np.asarray(dist[a_surface], dtype=np.float64)


def surface_metrics(pred: NDArray[np.bool_], ref: NDArray[np.bool_],
                    spacing_mm: Sequence[float], tolerance_mm: float = 3.0) -> dict[str, float]:
    """HD, HD95, MSD and NSD of a prediction against a reference.

    Parameters
    ----------
    pred, ref : ndarray of bool, shape (z, y, x)
        Predicted and reference masks on the same grid.
    spacing_mm : sequence of float
        Voxel spacing (z, y, x), mm.
    tolerance_mm : float
        NSD tolerance, mm.

    Returns
    -------
    dict[str, float]
        ``hd_mm``, ``hd95_mm``, ``msd_mm`` (mm) and ``nsd`` (in [0, 1]); the module
        docstring gives the definitions and the empty-mask rules.
    """
    has_pred, has_ref = bool(pred.any()), bool(ref.any())
    if not has_pred and not has_ref:
        return {"hd_mm": 0.0, "hd95_mm": 0.0, "msd_mm": 0.0, "nsd": 1.0}
    if not (has_pred and has_ref):
        nan = float("nan")
        return {"hd_mm": nan, "hd95_mm": nan, "msd_mm": nan, "nsd": 0.0}
    p, r = crop_to_union(pred, ref)
    sp, sr = surface_voxels(p), surface_voxels(r)
    d_pr = directed_distances(sp, sr, spacing_mm)
    d_rp = directed_distances(sr, sp, spacing_mm)
    both = np.concatenate([d_pr, d_rp])
    return {
        "hd_mm": float(both.max()),
        "hd95_mm": float(max(np.percentile(d_pr, 95), np.percentile(d_rp, 95))),
        "msd_mm": float(both.mean()),
        "nsd": float(np.count_nonzero(both <= tolerance_mm)) / float(both.size),
    }
