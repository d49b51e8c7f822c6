"""Regions of the planning CT carried into SPECT/PET space.

Named regions are built on the planning CT grid from our label map
(:func:`planning_regions`: liver, tumour, each lesion, normal liver = liver minus tumour,
Couinaud segments, lungs) and carried onto the emission grid through the rigid
registration of :mod:`pipeline.dosimetry.register`:

- :func:`regions_on_grid` resamples them **nearest-neighbour**: each SPECT/PET voxel
  belongs to a region or not, which a DVH needs (a DVH counts whole voxels of the dose
  grid) and which keeps lesions apart.
- :func:`region_fractions` gives **partial-volume fractions** (0-1) per emission voxel: the
  label map is resampled nearest-neighbour onto a grid ``n`` times finer than the emission
  grid and averaged over each ``n x n x n`` block. This preserves region volumes (the sum of
  fractions times the voxel volume) far better than nearest-neighbour on a 4-5 mm grid,
  and it is used where counts are summed (lung shunt, MAA scaling). Linear interpolation
  of a binary mask straight onto the coarse grid was not used: it samples, it does not
  average, so its values are not fractions of the voxel's volume.

Their projections onto planar views: :mod:`pipeline.dosimetry.planar`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np
import SimpleITK as sitk  # noqa: N813
from numpy.typing import NDArray
from scipy import ndimage

from pipeline.dosimetry.register import Registration
from pipeline.structures import COUINAUD_SEGMENTS, Structure, liver_labels

BoolArray = NDArray[np.bool_]


def planning_regions(labelmap: NDArray[np.integer], labels: Mapping[int, Structure],
                     lung: BoolArray | None = None) -> dict[str, BoolArray]:
    """Named regions on the planning CT grid from a label map.

    Parameters
    ----------
    labelmap : ndarray of int, shape (z, y, x)
        Label values on the planning CT grid.
    labels : mapping of int to Structure
        Label value -> structure (e.g. :data:`pipeline.structures.DEMO_LABELS`).
    lung : ndarray of bool, optional
        Lung mask on the same grid where the label map has no lung label.

    Returns
    -------
    dict of str to ndarray of bool
        ``liver`` (segments + tumour), ``tumour``, ``normal_liver`` (liver minus tumour),
        ``couinaud_1`` .. ``couinaud_8`` where labelled, ``lesion_1`` ... (26-connected
        tumour components, largest first), and ``lung`` where known. Empty regions are
        left out.
    """
    values = {s: v for v, s in labels.items()}
    liver = np.isin(labelmap, liver_labels(dict(labels)))
    tumour = (labelmap == values[Structure.METASTASIS]) if Structure.METASTASIS in values \
        else np.zeros(labelmap.shape, bool)
    regions: dict[str, BoolArray] = {"liver": liver, "tumour": tumour,
                                     "normal_liver": liver & ~tumour}
    for segment in COUINAUD_SEGMENTS:
        if segment in values:
            regions[segment.value] = labelmap == values[segment]
    components, count = ndimage.label(tumour, structure=np.ones((3, 3, 3), bool))
    sizes = np.bincount(components.ravel(), minlength=count + 1)[1:]
    for rank, label in enumerate(np.argsort(-sizes, kind="stable") + 1, start=1):
        regions[f"lesion_{rank}"] = components == label
    if Structure.LUNG in values:
        regions["lung"] = labelmap == values[Structure.LUNG]
    elif lung is not None:
        regions["lung"] = lung.astype(bool)
    return {name: mask for name, mask in regions.items() if mask.any()}


def label_image(regions: Mapping[str, BoolArray], planning: sitk.Image
                ) -> tuple[sitk.Image, dict[str, int]]:
    """Regions as one bit-field label image on the planning CT geometry.

    Regions overlap (a lesion is in the tumour and the liver), so each region is a bit:
    region ``i`` sets bit ``i``; the pixel type is the smallest unsigned integer with a bit
    per region (at most 32 regions).
    """
    if len(regions) > 32:
        raise ValueError(f"at most 32 regions, got {len(regions)}")
    dtype = np.uint8 if len(regions) <= 8 else np.uint16 if len(regions) <= 16 else np.uint32
    bits = np.zeros(sitk.GetArrayViewFromImage(planning).shape, dtype)
    codes: dict[str, int] = {}
    for i, (name, mask) in enumerate(regions.items()):
        bits[mask] |= dtype(1 << i)
        codes[name] = 1 << i
    image = sitk.GetImageFromArray(bits)
    image.CopyInformation(planning)
    return image, codes


def _to_grid(image: sitk.Image, reference: sitk.Image, registration: Registration | None
             ) -> sitk.Image:
    transform = (sitk.Transform() if registration is None
                 else registration.transform.GetInverse())
    return sitk.Resample(image, reference, transform, sitk.sitkNearestNeighbor, 0,
                         image.GetPixelID())


def regions_on_grid(regions: Mapping[str, BoolArray], planning: sitk.Image,
                    reference: sitk.Image, registration: Registration | None
                    ) -> dict[str, BoolArray]:
    """Planning-CT regions on the emission grid, nearest-neighbour.

    Parameters
    ----------
    regions : mapping of str to ndarray of bool
        Masks (z, y, x) on the planning CT grid.
    planning : SimpleITK.Image
        The planning CT (its geometry).
    reference : SimpleITK.Image
        The SPECT/PET image (its geometry).
    registration : Registration or None
        Planning CT -> emission study registration; None when both share a frame of
        reference and are aligned (identity).

    Returns
    -------
    dict of str to ndarray of bool
        The masks (z, y, x) on the emission grid; a region may come out empty.
    """
    image, codes = label_image(regions, planning)
    bits = sitk.GetArrayFromImage(_to_grid(image, reference, registration))
    return {name: (bits & code) != 0 for name, code in codes.items()}


def _fine_slab(reference: sitk.Image, subsamples: int, first: int, count: int
               ) -> sitk.Image:
    """Grid ``subsamples`` times finer than ``count`` slices of ``reference`` from ``first``."""
    n = subsamples
    nx, ny, _ = reference.GetSize()
    fine = sitk.Image([nx * n, ny * n, count * n], sitk.sitkUInt8)
    spacing = np.asarray(reference.GetSpacing()) / n
    direction = np.asarray(reference.GetDirection()).reshape(3, 3)
    corner = reference.TransformContinuousIndexToPhysicalPoint([0.0, 0.0, float(first)])
    shift = direction @ (spacing * (n - 1) / 2.0)   # first fine centre inside first voxel
    fine.SetSpacing(tuple(spacing))
    fine.SetDirection(reference.GetDirection())
    fine.SetOrigin(tuple(np.asarray(corner) - shift))
    return fine


def region_fractions(regions: Mapping[str, BoolArray], planning: sitk.Image,
                     reference: sitk.Image, registration: Registration | None,
                     subsamples: int = 3, names: Iterable[str] | None = None,
                     slab_slices: int = 16) -> dict[str, NDArray[np.float32]]:
    """Fraction (0-1) of each emission voxel's volume inside each region.

    Parameters
    ----------
    regions, planning, reference, registration
        As for :func:`regions_on_grid`.
    subsamples : int
        Samples per voxel edge (``n``; ``n**3`` per voxel, at most 40).
    names : iterable of str, optional
        Regions to return (default: all).
    slab_slices : int
        Emission slices resampled at a time: the fine grid of one slab (``n**3`` x the
        slab's voxels, 1-4 bytes each) is the memory the fractions need beyond their own.

    Returns
    -------
    dict of str to ndarray of float32
        Fractions (z, y, x) on the emission grid.
    """
    if not 1 <= subsamples <= 40:
        raise ValueError("subsamples must be 1 to 40 (counts are 16-bit)")
    wanted = list(regions) if names is None else list(names)
    image, codes = label_image({name: regions[name] for name in wanted}, planning)
    z, y, x = sitk.GetArrayViewFromImage(reference).shape
    n = subsamples
    out = {name: np.empty((z, y, x), np.float32) for name in wanted}
    for first in range(0, z, slab_slices):
        count = min(slab_slices, z - first)
        fine = _to_grid(image, _fine_slab(reference, n, first, count), registration)
        bits = sitk.GetArrayViewFromImage(fine).reshape(count, n, y, n, x, n)
        for name in wanted:
            inside = (bits & codes[name]) != 0
            counted = inside.sum(axis=(1, 3, 5), dtype=np.uint16)
            out[name][first:first + count] = counted / np.float32(n**3)
    return out

