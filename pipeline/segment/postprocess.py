"""Per-structure post-processing of a combined label map (pure functions over arrays).

Rules (see :class:`pipeline.segment.config.PostProcessRule`): largest connected component,
hole filling, removal of islands below a volume, tumours kept inside the liver, vessels
clipped to the liver region. The ``liver`` rule acts on the union of the liver parts
(:func:`pipeline.structures.liver_labels`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

import numpy as np
from numpy.typing import NDArray
from scipy import ndimage

from pipeline.segment.config import PostProcessRule
from pipeline.segment.geometry import bounding_box
from pipeline.structures import COUINAUD_SEGMENTS, Structure, liver_labels

_CONNECTIVITY = ndimage.generate_binary_structure(3, 3)
_PARENCHYMA = {Structure.LIVER, *COUINAUD_SEGMENTS}


def _of(labelmap: NDArray[np.uint8], values: Iterable[int]) -> NDArray[np.bool_]:
    """Voxels holding one of ``values`` (a lookup table: several times faster than isin)."""
    table = np.zeros(256, bool)
    table[list(values)] = True
    return np.asarray(table[labelmap])


def _components(mask: NDArray[np.bool_]) -> tuple[NDArray[np.int32], NDArray[np.int64]]:
    """26-connected components and their voxel counts (index 0 = background)."""
    lab, n = ndimage.label(mask, structure=_CONNECTIVITY)
    return lab, np.bincount(lab.ravel(), minlength=n + 1)


def _in_box(mask: NDArray[np.bool_], operation: Callable[..., NDArray[np.bool_]],
            *regions: NDArray[np.bool_]) -> NDArray[np.bool_]:
    """Apply ``operation`` to the mask's bounding box grown by one voxel (and the same box
    of ``regions``); voxels outside stay False.

    Connected components, their one-voxel shells and hole filling of a mask depend only on
    this box, so the result equals the operation on the whole array at a fraction of the
    cost (a segment or vessel fills a few percent of a CT).
    """
    box = bounding_box(mask, (1.0, 1.0, 1.0), 1.0)
    out = np.zeros_like(mask)
    if box is not None:
        out[box] = operation(mask[box], *(region[box] for region in regions))
    return out


def _largest(mask: NDArray[np.bool_]) -> NDArray[np.bool_]:
    lab, counts = _components(mask)
    if counts.size <= 1:
        return mask.copy()
    return np.asarray(lab == int(np.argmax(counts[1:]) + 1))


def largest_component(mask: NDArray[np.bool_]) -> NDArray[np.bool_]:
    """The largest 26-connected component of a mask (empty stays empty)."""
    return _in_box(mask, _largest)


def remove_small_components(mask: NDArray[np.bool_], min_voxels: float) -> NDArray[np.bool_]:
    """Remove 26-connected components with fewer than ``min_voxels`` voxels."""
    def remove(sub: NDArray[np.bool_]) -> NDArray[np.bool_]:
        lab, counts = _components(sub)
        keep = counts >= min_voxels
        keep[0] = False
        return np.asarray(keep[lab])

    return _in_box(mask, remove)


def components_touching(mask: NDArray[np.bool_], region: NDArray[np.bool_],
                        min_contact: float) -> NDArray[np.bool_]:
    """Components of ``mask`` whose one-voxel outer shell lies at least ``min_contact`` in
    ``region`` (voxels of the component itself inside ``region`` count as contact too).

    Parameters
    ----------
    mask, region : ndarray of bool, shape (z, y, x)
        Components to test; the region they must lie in.
    min_contact : float
        Minimum fraction in [0, 1].

    Returns
    -------
    ndarray of bool
        The kept components.
    """
    def touching(sub: NDArray[np.bool_], inside_all: NDArray[np.bool_]) -> NDArray[np.bool_]:
        lab, _ = _components(sub)
        out = np.zeros_like(sub)
        for index, sl in enumerate(ndimage.find_objects(lab), start=1):
            if sl is None:
                continue
            grown = tuple(slice(max(0, s.start - 1), s.stop + 1) for s in sl)
            comp = lab[grown] == index
            shell = ndimage.binary_dilation(comp, structure=_CONNECTIVITY) & ~comp
            inside = inside_all[grown]
            n_shell = int(shell.sum())
            contact = float((shell & inside).sum()) / n_shell if n_shell else 1.0
            if contact >= min_contact or (comp & inside).any():
                out[grown] |= comp
        return out

    return _in_box(mask, touching, region)


def within_distance(mask: NDArray[np.bool_], region: NDArray[np.bool_],
                    spacing_mm: Sequence[float], distance_mm: float) -> NDArray[np.bool_]:
    """Voxels of ``mask`` not farther than ``distance_mm`` from ``region``.

    Mask voxels inside the region are kept as they are; the distance transform runs only
    where the bounding boxes of the region and of the mask voxels outside it, each grown by
    the distance, overlap: every region voxel within the distance of such a voxel lies
    there, so the result is exact.
    """
    out = mask & region
    outside = mask & ~region
    boxes = [bounding_box(m, spacing_mm, distance_mm) for m in (region, outside)]
    if boxes[0] is None or boxes[1] is None:
        return out
    box = tuple(slice(max(a.start, b.start), min(a.stop, b.stop))
                for a, b in zip(boxes[0], boxes[1], strict=True))
    if any(sl.start >= sl.stop for sl in box):
        return out
    dist = ndimage.distance_transform_edt(~region[box], sampling=tuple(spacing_mm))
    out[box] |= outside[box] & (dist <= distance_mm)
    return out


def fill_holes_nearest(labelmap: NDArray[np.uint8], values: Iterable[int]) -> NDArray[np.uint8]:
    """Fill background holes of the union of ``values`` with the nearest of those labels."""
    values = list(values)
    union = _of(labelmap, values)
    box = bounding_box(union, (1.0, 1.0, 1.0), 1.0)
    out = labelmap.copy()
    if box is None:
        return out
    sub = out[box]
    holes = ndimage.binary_fill_holes(union[box]) & (sub == 0)
    if holes.any():
        _, idx = ndimage.distance_transform_edt(~union[box], return_indices=True)
        nearest = sub[tuple(idx)]
        sub[holes] = nearest[holes]
    return out


def apply_rules(labelmap: NDArray[np.uint8], labels: dict[int, Structure],
                rules: dict[Structure, PostProcessRule], spacing_mm: Sequence[float],
                order: Sequence[Structure]) -> NDArray[np.uint8]:
    """Apply every configured rule to a combined label map.

    The ``liver`` rule runs first (it defines the liver that the tumour and vessel rules
    refer to), then the other structures in ``order``; cleared voxels become background.

    Parameters
    ----------
    labelmap : ndarray of uint8, shape (z, y, x)
        Combined label map.
    labels : dict[int, Structure]
        Its label value -> structure.
    rules : dict[Structure, PostProcessRule]
        Rules per structure.
    spacing_mm : sequence of float
        Voxel spacing (z, y, x) in mm.
    order : sequence of Structure
        Order of the non-liver rules (structures not listed follow).

    Returns
    -------
    ndarray of uint8
        A new label map.
    """
    out = labelmap.copy()
    voxel_ml = float(np.prod(spacing_mm)) / 1000.0
    value_of = {s: v for v, s in labels.items()}
    liver_values = liver_labels(labels)
    if Structure.LIVER in rules and liver_values:
        rule = rules[Structure.LIVER]
        union = _of(out, liver_values)
        keep = union
        if rule.min_island_ml > 0:
            keep = remove_small_components(keep, rule.min_island_ml / voxel_ml)
        if rule.largest_component:
            keep = largest_component(keep)
        out[union & ~keep] = 0
        if rule.fill_holes:
            out = fill_holes_nearest(out, liver_values)
    rest = [s for s in order if s in rules] + [s for s in rules if s not in order]
    for structure in rest:
        value = value_of.get(structure)
        if structure == Structure.LIVER or value is None:
            continue
        rule = rules[structure]
        mask = out == value
        keep = mask
        if rule.min_island_ml > 0:
            keep = remove_small_components(keep, rule.min_island_ml / voxel_ml)
        if rule.largest_component:
            keep = largest_component(keep)
        if rule.inside_liver or rule.clip_to_liver_mm is not None:
            parenchyma = _of(out, [v for v, s in labels.items() if s in _PARENCHYMA])
            if rule.inside_liver:
                keep = components_touching(keep, parenchyma, rule.inside_liver_min_contact)
            if rule.clip_to_liver_mm is not None:
                liver = parenchyma | _of(out, liver_values)
                keep = within_distance(keep, liver, spacing_mm, rule.clip_to_liver_mm)
        out[mask & ~keep] = 0
        if rule.fill_holes:
            filled = ndimage.binary_fill_holes(out == value)
            out[filled & (out == 0)] = value
    return out
