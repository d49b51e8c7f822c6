"""Which segments a SEG holds."""

from __future__ import annotations

import numpy as np
import pytest
from encode_synthetic_ct import SHAPE, demo_segmentation

from pipeline.encode.config import EncodeConfig, SegmentationType
from pipeline.encode.content import SegmentationContent
from pipeline.encode.segments import (
    ALL_LESIONS_LABEL,
    have_overlap,
    labelmap_array,
    plan_segments,
    segment_mask,
    stacked_masks,
)
from pipeline.structures import Structure


def _labels(specs) -> list[str]:
    return [s.tracking_id for s in specs]


def test_binary_plan_has_liver_all_lesions_and_each_lesion(segmentation) -> None:
    specs = plan_segments(segmentation, EncodeConfig())
    ids = _labels(specs)
    assert ids[0] == "Liver"
    assert ALL_LESIONS_LABEL in ids
    assert ids[-2:] == ["Lesion 1", "Lesion 2"]
    assert [s.number for s in specs] == list(range(1, len(specs) + 1))
    liver = segment_mask(specs[0], segmentation)
    parts = np.isin(segmentation.labelmap, list(range(1, 10)))
    assert np.array_equal(liver, parts)


def test_labelmap_plan_has_no_overlapping_segments(segmentation) -> None:
    config = EncodeConfig(segmentation_type=SegmentationType.LABELMAP)
    specs = plan_segments(segmentation, config)
    assert "Liver" not in _labels(specs)
    assert ALL_LESIONS_LABEL not in _labels(specs)
    array = labelmap_array(specs, segmentation, slice(None))
    for spec in specs:
        assert np.array_equal(array == spec.number, segment_mask(spec, segmentation))


def test_without_unions_binary_plan_does_not_overlap(segmentation) -> None:
    specs = plan_segments(segmentation, EncodeConfig(union_segments=False))
    assert not have_overlap(specs)
    assert "Liver" not in _labels(specs) and ALL_LESIONS_LABEL not in _labels(specs)
    assert have_overlap(plan_segments(segmentation, EncodeConfig()))


def test_lesion_outside_metastasis_label_is_refused(segmentation) -> None:
    lesion_map = segmentation.lesion_map.copy()
    lesion_map[segmentation.labelmap == 12] = 3  # a "lesion" in the IVC
    content = SegmentationContent(segmentation.labelmap, segmentation.labels,
                                  segmentation.algorithm, lesion_map)
    with pytest.raises(ValueError, match="outside the metastasis"):
        plan_segments(content, EncodeConfig())


def test_lesions_not_separate_keeps_one_metastasis_segment(segmentation) -> None:
    specs = plan_segments(segmentation, EncodeConfig(lesions_as_segments=False))
    assert not any(s.tracking_id.startswith("Lesion") for s in specs)
    assert ALL_LESIONS_LABEL in _labels(specs)


def test_empty_structures_are_omitted(segmentation) -> None:
    labelmap = segmentation.labelmap.copy()
    labelmap[labelmap == 11] = 0  # no hepatic vein voxel left
    content = SegmentationContent(labelmap, segmentation.labels, segmentation.algorithm)
    assert "Hepatic vein" not in _labels(plan_segments(content, EncodeConfig()))


def test_overlap_in_labelmap_is_refused(segmentation) -> None:
    specs = plan_segments(segmentation, EncodeConfig())  # BINARY: liver overlaps segments
    with pytest.raises(ValueError, match="overlaps"):
        labelmap_array(specs, segmentation, slice(None))


def test_stacked_masks_follow_segment_order() -> None:
    content = demo_segmentation(SHAPE)
    specs = plan_segments(content, EncodeConfig())
    z = slice(2, 5)
    stacked = stacked_masks(specs, content, z)
    assert stacked.shape == (3, *SHAPE[1:], len(specs))
    for i, spec in enumerate(specs):
        assert np.array_equal(stacked[..., i], segment_mask(spec, content, z))


def test_explicit_liver_label_is_used_as_is(segmentation) -> None:
    labelmap = (segmentation.labelmap > 0).astype(np.uint8)
    content = SegmentationContent(labelmap, {1: Structure.LIVER}, segmentation.algorithm)
    specs = plan_segments(content, EncodeConfig())
    assert [(s.tracking_id, s.label_values) for s in specs] == [("Liver", (1,))]


def _with_regions(segmentation: SegmentationContent) -> SegmentationContent:
    """The segmentation plus a remnant region over segments' voxels and an empty resection."""
    remnant = np.isin(segmentation.labelmap, [5, 8])
    assert remnant.any()
    return SegmentationContent(
        segmentation.labelmap, segmentation.labels, segmentation.algorithm,
        segmentation.lesion_map,
        regions={Structure.FUTURE_LIVER_REMNANT: remnant,
                 Structure.RESECTED_LIVER: np.zeros_like(remnant)})


def test_binary_plan_ends_with_the_non_empty_planning_regions(segmentation) -> None:
    content = _with_regions(segmentation)
    specs = plan_segments(content, EncodeConfig(union_segments=False))
    last = specs[-1]
    assert last.tracking_id == "Future liver remnant" and last.region is not None
    assert last.number == len(specs)
    assert "Resected liver" not in _labels(specs)  # empty: left out
    assert have_overlap(specs)  # the region overlaps segments: stacked masks
    assert np.array_equal(segment_mask(last, content),
                          content.regions[Structure.FUTURE_LIVER_REMNANT])
    stack = stacked_masks(specs, content, slice(None))
    assert (stack[..., -1] & stack[..., :-1].any(axis=-1)).any()


def test_labelmap_plan_leaves_the_planning_regions_out(segmentation) -> None:
    content = _with_regions(segmentation)
    config = EncodeConfig(segmentation_type=SegmentationType.LABELMAP)
    specs = plan_segments(content, config)
    assert all(s.region is None for s in specs)
    labelmap_array(specs, content, slice(None))  # no overlap error
