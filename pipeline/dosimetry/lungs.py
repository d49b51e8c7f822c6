"""Lungs from the emission study's own CT, by HU threshold (for the SPECT lung shunt).

The planning CT of a liver study often stops below the lungs and our segmentation has no
lung label; the SPECT/CT's CT covers them. The lungs are taken as the air (HU below a
threshold) enclosed by the body in each axial slice, split into 3-D components (6-connected);
the largest component and a second one of at least ``min_share`` of its volume are kept (the
two lungs, or one if they touch), each at least ``min_ml``. Limits: bowel gas as large as a
lung would be taken for one, and lungs cut by the field of view are partial; the volume is
returned so that the caller can report it.
"""

from __future__ import annotations

import numpy as np
import SimpleITK as sitk  # noqa: N813
from numpy.typing import NDArray
from scipy import ndimage

BoolArray = NDArray[np.bool_]

_IN_PLANE = np.zeros((3, 3, 3), bool)
_IN_PLANE[1] = ndimage.generate_binary_structure(2, 1)


def lungs_from_ct(ct: sitk.Image, air_below_hu: float = -400.0, min_ml: float = 100.0,
                  min_share: float = 0.1) -> BoolArray:
    """Lung mask (z, y, x) on the CT's grid.

    Parameters
    ----------
    ct : SimpleITK.Image
        CT in HU with axial slices (the third index runs along the slice normal).
    air_below_hu : float
        Voxels below this HU are air or lung.
    min_ml : float
        Smallest lung component kept, mL.
    min_share : float
        A second component is kept if it holds at least this share of the largest one.

    Returns
    -------
    ndarray of bool
        The lungs; empty if no enclosed air component is large enough.
    """
    hu = sitk.GetArrayViewFromImage(ct)
    air = hu < air_below_hu
    # A solid slice above and below: only the in-plane border counts as outside, so lungs
    # cut by the first or last slice stay enclosed.
    solid = np.pad(~air, ((1, 1), (0, 0), (0, 0)), constant_values=True)
    enclosed = ndimage.binary_fill_holes(solid, structure=_IN_PLANE)[1:-1] & air
    components, count = ndimage.label(enclosed)
    if count == 0:
        return np.zeros(hu.shape, bool)
    voxel_ml = float(np.prod(ct.GetSpacing())) / 1000.0
    volumes = np.bincount(components.ravel())[1:] * voxel_ml
    order = np.argsort(-volumes, kind="stable")[:2]
    keep = [int(i) + 1 for i in order
            if volumes[i] >= min_ml and volumes[i] >= min_share * volumes[order[0]]]
    lungs: BoolArray = np.isin(components, keep)
    return lungs
