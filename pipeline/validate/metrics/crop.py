"""Cropping masks to the region that matters, so that whole-body grids stay cheap."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray


def crop_to_union(*masks: NDArray[np.bool_], pad: int = 1) -> list[NDArray[np.bool_]]:
    """The masks cut to the bounding box of their union and padded with background.

    Parameters
    ----------
    *masks : ndarray of bool
        Masks of equal shape, at least one of them not empty.
    pad : int
        Background voxels added on every side (so that the array border is background).

    Returns
    -------
    list of ndarray of bool
        The cropped, padded masks, in the order given.
    """
    union = np.zeros(masks[0].shape, bool)
    for m in masks:
        union |= m
    box = []
    for axis in range(union.ndim):
        hit = np.flatnonzero(union.any(axis=tuple(a for a in range(union.ndim) if a != axis)))
        box.append(slice(int(hit[0]), int(hit[-1]) + 1))
    return [np.pad(m[tuple(box)], pad) for m in masks]
