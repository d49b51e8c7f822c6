"""The bounding box of a label map's labelled voxels.

Post-processing, the confidence figures and quantification count, label or measure only
labelled voxels; a liver fills a few percent of a 512x512 abdominal CT, so they run on this
box instead of the whole grid (the work and the temporary arrays shrink by about that much).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray


def nonzero_box(
    labelmap: NDArray[np.integer], margin: int = 0
) -> tuple[slice, slice, slice] | None:
    """Bounding box of the nonzero voxels, grown by ``margin`` voxels (clipped to the grid).

    Parameters
    ----------
    labelmap : ndarray of int, shape (z, y, x)
        Label values, 0 background.
    margin : int
        Voxels added on every side (the box stays inside the grid).

    Returns
    -------
    tuple of 3 slice or None
        Half-open index ranges (z, y, x); None where every voxel is 0.
    """
    if labelmap.size == 0:
        return None
    per_z = labelmap.max(axis=(1, 2))  # max over whole planes first: one pass, then small ones
    z = np.flatnonzero(per_z)
    if z.size == 0:
        return None
    plane = labelmap[z[0] : z[-1] + 1].max(axis=0)
    y = np.flatnonzero(plane.any(axis=1))
    x = np.flatnonzero(plane.any(axis=0))
    lo = [max(0, int(i[0]) - margin) for i in (z, y, x)]
    hi = [min(n, int(i[-1]) + 1 + margin) for i, n in zip((z, y, x), labelmap.shape, strict=True)]
    return slice(lo[0], hi[0]), slice(lo[1], hi[1]), slice(lo[2], hi[2])
