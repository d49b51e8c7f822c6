"""Which segments a DICOM-SEG holds, and their masks.

Segment order: the liver (derived as the union of :func:`pipeline.structures.liver_labels`
where it is not a label of its own), then each label in ascending label value, the
metastasis label as one "all lesions" segment, then one segment per lesion, then the planning
regions of a learned FLR model. Segments with no voxel are omitted (the SR reports their
volume as 0 mL with a "structure not found" evaluation instead of referencing an empty
segment). The derived liver and, when lesions are separate segments, the all-lesion segment
overlap other segments: they are written only in BINARY SEGs with ``union_segments`` on
(LABELMAP segments may not overlap). The planning regions overlap the liver's parts by
definition: they are written in BINARY SEGs only (whatever ``union_segments`` says); a
LABELMAP SEG leaves them out, and the SR then reports their figures without a segment.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from pipeline.encode.config import EncodeConfig, SegmentationType
from pipeline.encode.content import SegmentationContent, lesion_tracking_id
from pipeline.segment.geometry import value_counts
from pipeline.structures import (
    CATALOGUE,
    PLANNING_REGIONS,
    Structure,
    StructureInfo,
    liver_labels,
)

_SLAB = 32
"""Slices of the lesion map looked up at a time in :func:`labelmap_array`."""

ALL_LESIONS_LABEL = "All liver metastases"
"""Segment label and Tracking Identifier of the union of all metastases."""

_LESION_COLOURS = (
    (255, 255, 0),
    (255, 200, 0),
    (255, 140, 0),
    (255, 99, 71),
    (255, 0, 255),
    (0, 255, 127),
)


@dataclass(frozen=True)
class SegmentSpec:
    """One planned segment.

    Parameters
    ----------
    number : int
        Segment Number (1-based, consecutive).
    info : StructureInfo
        Codes and colour of the structure.
    label : str
        Segment Label.
    tracking_id : str
        Tracking ID, shared with the SR group measuring this segment.
    label_values : tuple[int, ...]
        Label-map values whose union is the segment (empty for a lesion).
    lesion_id : int or None
        Lesion-map component id for a per-lesion segment.
    rgb : tuple[int, int, int]
        Display colour, 0-255.
    region : Structure or None
        The planning region whose mask is the segment.
    derived : bool
        Whether the segment is the union of other segments' label values (the liver made
        of its parts), however many of them are in view: it overlaps them even when one.
    """

    number: int
    info: StructureInfo
    label: str
    tracking_id: str
    label_values: tuple[int, ...]
    lesion_id: int | None = None
    rgb: tuple[int, int, int] = (255, 255, 255)
    region: Structure | None = None
    derived: bool = False


def structure_tracking_id(structure: Structure) -> str:
    """Tracking Identifier of a structure's segment and SR group (its catalogue label)."""
    return CATALOGUE[structure].label


def plan_segments(segmentation: SegmentationContent, config: EncodeConfig) -> list[SegmentSpec]:
    """Decide the segments of the SEG (non-empty ones only).

    Parameters
    ----------
    segmentation : SegmentationContent
        Label map, label meanings and optional lesion map.
    config : EncodeConfig
        Segmentation type and whether lesions are separate segments.

    Returns
    -------
    list[SegmentSpec]
        Segments in Segment Number order.
    """
    labelmap = segmentation.labelmap
    counts = value_counts(labelmap, minlength=max(segmentation.labels, default=0) + 1)
    present = {v for v, s in segmentation.labels.items() if v > 0 and counts[v] > 0}
    labelmap_type = config.segmentation_type is SegmentationType.LABELMAP
    unions = config.union_segments and not labelmap_type
    lesion_ids = _lesion_ids(segmentation) if config.lesions_as_segments else []
    planned: list[tuple[StructureInfo, str, str, tuple[int, ...], int | None, tuple[int, int, int]]]
    planned = []
    derived = False
    explicit_liver = Structure.LIVER in segmentation.labels.values()
    liver_parts = tuple(v for v in liver_labels(segmentation.labels) if v in present)
    if not explicit_liver and unions and liver_parts:
        info = CATALOGUE[Structure.LIVER]
        planned.append((info, info.label, info.label, liver_parts, None, info.rgb))
        derived = True
    for value in sorted(present):
        info = CATALOGUE[segmentation.labels[value]]
        if info.structure is Structure.METASTASIS:
            if lesion_ids and not unions:
                continue
            planned.append((info, ALL_LESIONS_LABEL, ALL_LESIONS_LABEL, (value,), None, info.rgb))
        else:
            planned.append((info, info.label, info.label, (value,), None, info.rgb))
    met = CATALOGUE[Structure.METASTASIS]
    for i, lesion_id in enumerate(lesion_ids):
        tid = lesion_tracking_id(lesion_id)
        planned.append(
            (
                met,
                f"{met.label}, {tid.lower()}",
                tid,
                (),
                lesion_id,
                _LESION_COLOURS[i % len(_LESION_COLOURS)],
            )
        )
    specs = [
        SegmentSpec(n, info, label, tid, values, lesion, rgb, derived=derived and n == 1)  # first
        for n, (info, label, tid, values, lesion, rgb) in enumerate(planned, start=1)
    ]
    if labelmap_type:
        return specs
    regions = [
        s for s in PLANNING_REGIONS if s in segmentation.regions and segmentation.regions[s].any()
    ]
    return specs + [
        SegmentSpec(len(specs) + n, CATALOGUE[s], CATALOGUE[s].label, structure_tracking_id(s),
                    (), rgb=CATALOGUE[s].rgb, region=s)
        for n, s in enumerate(regions, start=1)
    ]


def _lesion_ids(segmentation: SegmentationContent) -> list[int]:
    if segmentation.lesion_map is None:
        return []
    if segmentation.lesion_map.shape != segmentation.labelmap.shape:
        raise ValueError("lesion map and label map differ in shape")
    in_lesion = segmentation.lesion_map > 0
    metastasis = [v for v, st in segmentation.labels.items() if st is Structure.METASTASIS]
    if not np.isin(segmentation.labelmap[in_lesion], metastasis).all():
        raise ValueError("lesion map has voxels outside the metastasis label")
    ids = np.unique(segmentation.lesion_map[in_lesion])
    return [int(i) for i in ids]


def union_specs(specs: Sequence[SegmentSpec]) -> list[SegmentSpec]:
    """The segments that overlap others by construction (the derived liver, even when it is
    made of one part, all lesions, the planning regions).

    Parameters
    ----------
    specs : sequence of SegmentSpec
        Planned segments.

    Returns
    -------
    list[SegmentSpec]
        The union segments in Segment Number order; the other segments never overlap.
    """
    lesions = any(s.lesion_id is not None for s in specs)
    return [
        s
        for s in specs
        if s.derived
        or (lesions and s.tracking_id == ALL_LESIONS_LABEL)
        or s.region is not None
    ]


def have_overlap(specs: Sequence[SegmentSpec]) -> bool:
    """Whether the plan has segments that overlap by construction (the union segments)."""
    return bool(union_specs(specs))


def segment_mask(
    spec: SegmentSpec, segmentation: SegmentationContent, z: slice = slice(None)
) -> NDArray[np.bool_]:
    """Boolean mask of one segment over slices ``z``.

    Parameters
    ----------
    spec : SegmentSpec
        The segment.
    segmentation : SegmentationContent
        Label map and lesion map.
    z : slice
        Slices to return (default all).

    Returns
    -------
    ndarray of bool, shape (nz, y, x)
    """
    if spec.region is not None:
        return np.asarray(segmentation.regions[spec.region][z])
    if spec.lesion_id is not None:
        if segmentation.lesion_map is None:
            raise ValueError(f"segment {spec.label!r} needs a lesion map")
        return np.asarray(segmentation.lesion_map[z] == spec.lesion_id)
    return np.isin(segmentation.labelmap[z], spec.label_values)


def stacked_masks(
    specs: Sequence[SegmentSpec], segmentation: SegmentationContent, z: slice
) -> NDArray[np.bool_]:
    """Masks of all segments stacked on a last axis (highdicom's "stacked segments" style).

    Returns
    -------
    ndarray of bool, shape (nz, y, x, len(specs))
        ``[..., i]`` is segment ``specs[i].number``.
    """
    nz = len(range(*z.indices(segmentation.labelmap.shape[0])))
    out = np.zeros((nz, *segmentation.labelmap.shape[1:], len(specs)), dtype=bool)
    for i, spec in enumerate(specs):
        out[..., i] = segment_mask(spec, segmentation, z)
    return out


def labelmap_array(
    specs: Sequence[SegmentSpec], segmentation: SegmentationContent, z: slice
) -> NDArray[np.unsignedinteger]:
    """Segment numbers per voxel (highdicom's "label-map" style; segments must not overlap).

    One look-up of the label map (and of the lesion map where there are lesion segments)
    instead of a comparison per segment.

    Returns
    -------
    ndarray of uint8 (fewer than 256 segments) or uint16, shape (nz, y, x)

    Raises
    ------
    ValueError
        If two segments claim the same voxel.
    """
    labels = segmentation.labelmap[z]
    dtype: type[np.unsignedinteger] = np.uint8 if len(specs) < 256 else np.uint16
    number_of: NDArray[np.unsignedinteger] = np.zeros(
        max(int(labels.max(initial=0)), *(v for s in specs for v in s.label_values), 0) + 1,
        dtype=dtype,
    )
    for spec in specs:
        if np.any(number_of[list(spec.label_values)]):
            raise ValueError(f"segment {spec.label!r} overlaps another in a LABELMAP SEG")
        number_of[list(spec.label_values)] = spec.number
    out: NDArray[np.unsignedinteger] = number_of[labels]
    lesions = {s.lesion_id: s.number for s in specs if s.lesion_id is not None}
    if lesions:
        if segmentation.lesion_map is None:
            raise ValueError("lesion segments need a lesion map")
        lesion_map = segmentation.lesion_map[z]
        lesion_number: NDArray[np.unsignedinteger] = np.zeros(
            max(int(lesion_map.max(initial=0)), *lesions) + 1, dtype
        )
        lesion_number[list(lesions)] = list(lesions.values())
        for start in range(0, len(out), _SLAB):  # a slab's temporaries at a time
            in_lesion = lesion_number[lesion_map[start : start + _SLAB]]
            claimed = in_lesion > 0
            part = out[start : start + _SLAB]
            if np.any(part[claimed]):
                raise ValueError("a lesion segment overlaps another in a LABELMAP SEG")
            part[claimed] = in_lesion[claimed]
    return out


def union_mask(spec: SegmentSpec, segmentation: SegmentationContent, z: slice) -> NDArray[np.bool_]:
    """Mask of a union segment over slices ``z``: a planning region's own mask, else one
    look-up of the label map.

    Returns
    -------
    ndarray of bool, shape (nz, y, x)
    """
    if spec.region is not None:
        return np.asarray(segmentation.regions[spec.region][z])
    labels = segmentation.labelmap[z]
    member = np.zeros(max(int(labels.max(initial=0)), *spec.label_values) + 1, dtype=bool)
    member[list(spec.label_values)] = True
    return member[labels]
