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
from pipeline.structures import (
    CATALOGUE,
    PLANNING_REGIONS,
    Structure,
    StructureInfo,
    liver_labels,
)

ALL_LESIONS_LABEL = "All liver metastases"
"""Segment label and Tracking Identifier of the union of all metastases."""

_LESION_COLOURS = ((255, 255, 0), (255, 200, 0), (255, 140, 0), (255, 99, 71),
                   (255, 0, 255), (0, 255, 127))


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
    """

    number: int
    info: StructureInfo
    label: str
    tracking_id: str
    label_values: tuple[int, ...]
    lesion_id: int | None = None
    rgb: tuple[int, int, int] = (255, 255, 255)
    region: Structure | None = None


def structure_tracking_id(structure: Structure) -> str:
    """Tracking Identifier of a structure's segment and SR group (its catalogue label)."""
    return CATALOGUE[structure].label


def plan_segments(
    segmentation: SegmentationContent, config: EncodeConfig
) -> list[SegmentSpec]:
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
    counts = np.bincount(labelmap.ravel(), minlength=max(segmentation.labels, default=0) + 1)
    present = {v for v, s in segmentation.labels.items() if v > 0 and counts[v] > 0}
    labelmap_type = config.segmentation_type is SegmentationType.LABELMAP
    unions = config.union_segments and not labelmap_type
    lesion_ids = _lesion_ids(segmentation) if config.lesions_as_segments else []
    planned: list[tuple[StructureInfo, str, str, tuple[int, ...], int | None,
                        tuple[int, int, int]]]
    planned = []
    explicit_liver = Structure.LIVER in segmentation.labels.values()
    liver_parts = tuple(v for v in liver_labels(segmentation.labels) if v in present)
    if not explicit_liver and unions and liver_parts:
        info = CATALOGUE[Structure.LIVER]
        planned.append((info, info.label, info.label, liver_parts, None, info.rgb))
    for value in sorted(present):
        info = CATALOGUE[segmentation.labels[value]]
        if info.structure is Structure.METASTASIS:
            if lesion_ids and not unions:
                continue
            planned.append((info, ALL_LESIONS_LABEL, ALL_LESIONS_LABEL, (value,), None,
                            info.rgb))
        else:
            planned.append((info, info.label, info.label, (value,), None, info.rgb))
    met = CATALOGUE[Structure.METASTASIS]
    for i, lesion_id in enumerate(lesion_ids):
        tid = lesion_tracking_id(lesion_id)
        planned.append((met, f"{met.label}, {tid.lower()}", tid, (), lesion_id,
                        _LESION_COLOURS[i % len(_LESION_COLOURS)]))
    specs = [SegmentSpec(n, info, label, tid, values, lesion, rgb)
             for n, (info, label, tid, values, lesion, rgb) in enumerate(planned, start=1)]
    if labelmap_type:
        return specs
    regions = [s for s in PLANNING_REGIONS
               if s in segmentation.regions and segmentation.regions[s].any()]
    return specs + [SegmentSpec(len(specs) + n, CATALOGUE[s], CATALOGUE[s].label,
                                structure_tracking_id(s), (), rgb=CATALOGUE[s].rgb, region=s)
                    for n, s in enumerate(regions, start=1)]


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


def have_overlap(specs: Sequence[SegmentSpec]) -> bool:
    """Whether the plan has segments that overlap by construction (the union segments,
    the planning regions)."""
    lesions = any(s.lesion_id is not None for s in specs)
    return any(len(s.label_values) > 1 or (lesions and s.tracking_id == ALL_LESIONS_LABEL)
               or s.region is not None for s in specs)


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
) -> NDArray[np.uint16]:
    """Segment numbers per voxel (highdicom's "label-map" style; segments must not overlap).

    Returns
    -------
    ndarray of uint16, shape (nz, y, x)

    Raises
    ------
    ValueError
        If two segments claim the same voxel.
    """
    nz = len(range(*z.indices(segmentation.labelmap.shape[0])))
    out = np.zeros((nz, *segmentation.labelmap.shape[1:]), dtype=np.uint16)
    for spec in specs:
        mask = segment_mask(spec, segmentation, z)
        if np.any(out[mask]):
            raise ValueError(f"segment {spec.label!r} overlaps another in a LABELMAP SEG")
        out[mask] = spec.number
    return out
