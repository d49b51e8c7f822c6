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
from scipy.spatial import cKDTree

from pipeline.box import nonzero_box
from pipeline.labelling import label
from pipeline.segment.config import PostProcessRule
from pipeline.segment.geometry import bounding_box, enclosed_background, value_counts
from pipeline.structures import COUINAUD_SEGMENTS, Structure, liver_labels

_CONNECTIVITY = ndimage.generate_binary_structure(3, 3)
_PARENCHYMA = {Structure.LIVER, *COUINAUD_SEGMENTS}


def _of(labelmap: NDArray[np.uint8], values: Iterable[int]) -> NDArray[np.bool_]:
    """Voxels holding one of ``values`` (a lookup table: several times faster than isin)."""
    table = np.zeros(256, bool)
    table[list(values)] = True
    return np.asarray(table[labelmap])


def _components(mask: NDArray[np.bool_]) -> tuple[NDArray[np.unsignedinteger],
                                                   NDArray[np.intp]]:
    """26-connected components and their voxel counts (index 0 = background)."""
    lab, n = label(mask, full=True)
    return lab, value_counts(lab, minlength=n + 1)


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

    Mask voxels inside the region are kept as they are. The others are kept where the
    distance transform of ``~region`` (scipy's Euclidean one, with ``spacing_mm``) is at most
    ``distance_mm``; the transform runs only where the bounding boxes of the region and of
    the mask voxels outside it, each grown by the distance, overlap: every region voxel
    within the distance of such a voxel lies there, so the result is exact.

    The distances are found with a k-d tree over the region's surface voxels (the nearest
    region voxel of a voxel outside is always one with a 6-neighbour outside: the step
    from it towards that voxel would otherwise be closer). Where a distance is within
    ``1e-6`` mm of ``distance_mm`` — where the rounding of two computations could decide
    differently — or the box holds no region voxel, the distance transform decides as
    before; the result is the transform's, voxel for voxel, at a fraction of the cost.
    """
    return _within_distance(mask, region, spacing_mm, distance_mm, (0, 0, 0), mask.shape)


_DISTANCE_TOLERANCE_MM = 1e-6
"""Distances this close to the clipping distance are decided by the distance transform."""


def _padded_box(box: tuple[slice, ...], pad: Sequence[int], origin: Sequence[int],
                shape: Sequence[int]) -> tuple[slice, ...]:
    """``box`` (indices of a window at ``origin`` of an array of ``shape``) grown by
    ``pad`` voxels per axis and clipped to that array, in window indices (may be negative
    or past the window)."""
    return tuple(slice(max(-o, sl.start - p), min(n - o, sl.stop + p))
                 for sl, p, o, n in zip(box, pad, origin, shape, strict=True))


def _within_distance(mask: NDArray[np.bool_], region: NDArray[np.bool_],
                     spacing_mm: Sequence[float], distance_mm: float,
                     origin: Sequence[int], shape: Sequence[int]) -> NDArray[np.bool_]:
    """:func:`within_distance` on a window at ``origin`` of an array of ``shape`` whose
    voxels outside the window are in neither ``mask`` nor ``region`` (the distance
    transform's box is the one of the whole array)."""
    out = mask & region
    outside = mask & ~region
    pad = [int(np.ceil(distance_mm / float(s))) for s in spacing_mm]
    found = [bounding_box(m, (1.0, 1.0, 1.0), 0.0) for m in (region, outside)]
    if found[0] is None or found[1] is None:
        return out
    boxes = [_padded_box(b, pad, origin, shape) for b in found if b is not None]
    box = tuple(slice(max(a.start, b.start), min(a.stop, b.stop))
                for a, b in zip(boxes[0], boxes[1], strict=True))
    if any(sl.start >= sl.stop for sl in box):
        return out
    # the window part of the box (region voxels are all inside the window)
    inner = tuple(slice(max(0, sl.start), min(n, sl.stop))
                  for sl, n in zip(box, region.shape, strict=True))
    sub = region[inner]
    queries = np.argwhere(outside)
    dist = _surface_distances(sub, [sl.start for sl in inner], queries, spacing_mm,
                              distance_mm)
    if dist is not None:
        out[tuple(queries[dist <= distance_mm].T)] = True
        return out
    # the distance transform on the box (parts outside the window hold no region voxel)
    free = np.ones(tuple(sl.stop - sl.start for sl in box), bool)
    free[tuple(slice(i.start - b.start, i.stop - b.start)
               for i, b in zip(inner, box, strict=True))] = ~sub
    dist_box = ndimage.distance_transform_edt(free, sampling=tuple(spacing_mm))
    near = dist_box[tuple(slice(i.start - b.start, i.stop - b.start)
                          for i, b in zip(inner, box, strict=True))] <= distance_mm
    out[inner] |= outside[inner] & near
    return out


def _within_distance_near(keep: NDArray[np.bool_], box: tuple[slice, ...],
                          labelmap: NDArray[np.uint8], values: Sequence[int],
                          spacing_mm: Sequence[float], distance_mm: float
                          ) -> NDArray[np.bool_] | None:
    """:func:`within_distance` of a structure's voxels and the voxels of ``values``,
    computed on the structure's box grown by the distance only; None where the k-d tree
    cannot decide there.

    Every voxel of the region within the distance of a voxel of ``keep`` lies in that
    grown box, and the nearest region voxel of a voxel outside the region is a surface
    voxel of the region's part in the box (the box's faces count as surface: the voxels
    added are region voxels, so no distance changes). Where the box holds no region
    voxel or a distance lies within the tolerance of ``distance_mm``, None is returned
    and the caller decides on the whole window as :func:`within_distance` does.

    Parameters
    ----------
    keep : ndarray of bool
        The structure's voxels on ``box``.
    box : tuple of slice
        Where ``keep`` lies in ``labelmap``.
    labelmap : ndarray of uint8, shape (z, y, x)
        The label map (window) holding the region.
    values : sequence of int
        The region's label values.
    spacing_mm : sequence of float
        Voxel spacing (z, y, x), mm.
    distance_mm : float
        Largest distance kept, mm.

    Returns
    -------
    ndarray of bool or None
        The kept voxels on ``box``, or None (undecided).
    """
    pad = [int(np.ceil(distance_mm / float(s))) for s in spacing_mm]
    near = tuple(slice(max(0, sl.start - p), min(n, sl.stop + p))
                 for sl, p, n in zip(box, pad, labelmap.shape, strict=True))
    at = tuple(slice(sl.start - g.start, sl.stop - g.start)
               for sl, g in zip(box, near, strict=True))
    region = _of(labelmap[near], values)
    inside = region[at]
    queries = np.argwhere(keep & ~inside)
    out = keep & inside
    if not len(queries):
        return out
    dist = _surface_distances(region, [-sl.start for sl in at], queries, spacing_mm,
                              distance_mm)
    if dist is None:
        return None
    out[tuple(queries[dist <= distance_mm].T)] = True
    return out


def _surface_distances(region: NDArray[np.bool_], offset: Sequence[int],
                       queries: NDArray[np.intp], spacing_mm: Sequence[float],
                       distance_mm: float) -> NDArray[np.float64] | None:
    """Distance (mm) of each query voxel to the nearest surface voxel of ``region``, by a
    k-d tree; None where it cannot decide (no region voxel, or a distance within
    :data:`_DISTANCE_TOLERANCE_MM` of ``distance_mm``).

    Parameters
    ----------
    region : ndarray of bool
        The region's voxels (its faces count as surface).
    offset : sequence of int
        Index of ``region[0, 0, 0]`` in the queries' indices.
    queries : ndarray of int, shape (n, 3)
        Voxel indices outside the region.
    spacing_mm : sequence of float
        Voxel spacing (z, y, x), mm.
    distance_mm : float
        The clipping distance, mm (distances beyond it by more than twice the tolerance
        are infinite).

    Returns
    -------
    ndarray of float or None
        One distance per query, mm.
    """
    points = np.argwhere(region & ~ndimage.binary_erosion(region, border_value=0))
    if not len(points):
        return None
    scale = np.asarray(spacing_mm, float)
    dist, _ = cKDTree((points + np.asarray(offset)) * scale).query(
        queries * scale, k=1, workers=-1,
        distance_upper_bound=distance_mm + 2 * _DISTANCE_TOLERANCE_MM)
    if np.any(np.abs(dist - distance_mm) <= _DISTANCE_TOLERANCE_MM):
        return None
    return np.asarray(dist)


def fill_holes_nearest(labelmap: NDArray[np.uint8], values: Iterable[int]) -> NDArray[np.uint8]:
    """Fill background holes of the union of ``values`` with the nearest of those labels.

    The holes are scipy's ``binary_fill_holes`` ones (:func:`~pipeline.segment.geometry.
    enclosed_background`); each takes the label of the union voxel scipy's feature
    transform (``distance_transform_edt(..., return_indices=True)``) names nearest. That
    transform runs on the box of the enclosed voxels (holes and the other labels inside the
    union) grown by one voxel, without the distance map: from an enclosed voxel, a straight
    line along any axis meets the union before leaving that box, so every union voxel at
    least as near lies in it.
    """
    values = list(values)
    union = _of(labelmap, values)
    box = bounding_box(union, (1.0, 1.0, 1.0), 1.0)
    out = labelmap.copy()
    if box is None:
        return out
    sub = out[box]
    inside = enclosed_background(union[box])
    holes = inside & (sub == 0)
    if not holes.any():
        return out
    near = bounding_box(inside, (1.0, 1.0, 1.0), 1.0)
    assert near is not None  # holes are enclosed voxels
    idx = ndimage.distance_transform_edt(~union[box][near], return_distances=False,
                                         return_indices=True)
    local, at = sub[near], holes[near]
    local[at] = local[tuple(i[at] for i in idx)]
    return out


def apply_rules(labelmap: NDArray[np.uint8], labels: dict[int, Structure],
                rules: dict[Structure, PostProcessRule], spacing_mm: Sequence[float],
                order: Sequence[Structure]) -> NDArray[np.uint8]:
    """Apply every configured rule to a combined label map.

    The ``liver`` rule runs first (it defines the liver that the tumour and vessel rules
    refer to), then the other structures in ``order``; cleared voxels become background.

    The rules run on the bounding box of the labelled voxels grown by one voxel: every
    rule's own box (a structure's box grown by one voxel, clipped to the array) lies in it,
    and the distance transforms of the vessel rule keep the box they have on the whole
    array, so the result equals the rules on the whole array. Label value 0 is
    background, never a structure.

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
    box = nonzero_box(out, margin=1)
    if box is not None:
        _apply_rules_in(out[box], labels, rules, spacing_mm, order,
                        tuple(sl.start for sl in box), out.shape)
    return out


def _apply_rules_in(out: NDArray[np.uint8], labels: dict[int, Structure],
                    rules: dict[Structure, PostProcessRule], spacing_mm: Sequence[float],
                    order: Sequence[Structure], origin: Sequence[int],
                    shape: Sequence[int]) -> None:
    """The rules, in place, on a window (at ``origin`` of a label map of ``shape``) that
    holds every labelled voxel and a one-voxel margin where the map has one."""
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
            out[...] = fill_holes_nearest(out, liver_values)
    rest = [s for s in order if s in rules] + [s for s in rules if s not in order]
    # Boxes of the label values now: a structure's rule clears only its own voxels and
    # fills holes inside its own box, so each box (grown by one voxel) holds the
    # structure's voxels, their one-voxel shell and holes until its rule runs.
    found = ndimage.find_objects(out)
    parenchyma_values = [v for v, s in labels.items() if s in _PARENCHYMA]
    for structure in rest:
        value = value_of.get(structure)
        if structure == Structure.LIVER or value is None:
            continue
        if value == 0 or value > len(found) or found[value - 1] is None:
            continue   # no voxel of this structure: every rule leaves the map as it is
        box = tuple(slice(max(0, sl.start - 1), min(n, sl.stop + 1))
                    for sl, n in zip(found[value - 1], out.shape, strict=True))
        rule = rules[structure]
        sub = out[box]
        mask = sub == value
        keep = mask
        if rule.min_island_ml > 0:
            keep = remove_small_components(keep, rule.min_island_ml / voxel_ml)
        if rule.largest_component:
            keep = largest_component(keep)
        if rule.inside_liver:
            keep = components_touching(keep, _of(sub, parenchyma_values),
                                       rule.inside_liver_min_contact)
        if rule.clip_to_liver_mm is not None:
            # the vessel's distance to the liver: on the vessel's box grown by the distance
            # where that decides, else with the liver anywhere in the window
            region = [*parenchyma_values, *liver_values]
            near = _within_distance_near(keep, box, out, region, spacing_mm,
                                         rule.clip_to_liver_mm)
            if near is None:
                full = np.zeros(out.shape, bool)
                full[box] = keep
                full = _within_distance(full, _of(out, region), spacing_mm,
                                        rule.clip_to_liver_mm, origin, shape)
                near = full[box]
            keep = near
        sub[mask & ~keep] = 0
        if rule.fill_holes:
            filled = _in_box(sub == value, enclosed_background)
            sub[filled & (sub == 0)] = value
