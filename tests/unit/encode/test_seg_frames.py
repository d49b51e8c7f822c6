"""The fast path of the BINARY SEG gives highdicom's own object.

:func:`pipeline.encode.seg.build_seg` makes a BINARY SEG's frames itself
(:mod:`pipeline.encode.seg_frames`) around an object highdicom builds. Here the result is
compared, element by element (per-frame functional groups and PixelData included), with
highdicom's own build (``fast=False``: a 3-D array of segment numbers, or one mask per
segment where segments overlap), on the synthetic series of these tests and on a series
made of pydicom's own test file ``CT_small.dcm``; only UIDs, dates and times may differ
(the SEG's own UIDs are the same: both builds are given them).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pydicom
import pytest
from dataset_compare import differences
from encode_synthetic_ct import SHAPE, Geometry, demo_segmentation, write_series
from pydicom.data import get_testdata_file
from pydicom.uid import generate_uid
from pydicom.valuerep import format_number_as_ds

from pipeline.encode.config import EncodeConfig
from pipeline.encode.content import SegmentationContent
from pipeline.encode.seg import build_seg
from pipeline.encode.seg_frames import segment_frames
from pipeline.encode.segments import plan_segments, union_specs
from pipeline.encode.source import read_source_headers
from pipeline.select.config import GeometryConfig
from pipeline.select.volume import build_volume
from pipeline.structures import Structure

sys.path.insert(0, str(Path(__file__).parents[2]))
from enhanced_ct import GEOMETRY_MACROS, enhanced, write

UNCOMPARED_VRS = {"UI", "DA", "TM", "DT"}
"""Tracking UIDs are new on every build, dates and times are the build's."""

UIDS = {
    "series_instance_uid": "1.2.826.0.1.3680043.8.498.1",
    "sop_instance_uid": "1.2.826.0.1.3680043.8.498.2",
}


def _assert_same_seg(
    volume, headers, content: SegmentationContent, config: EncodeConfig | None = None
) -> None:
    fast = build_seg(volume, headers, content, config, **UIDS)
    reference = build_seg(volume, headers, content, config, **UIDS, fast=False)
    for seg in (fast, reference):
        assert (seg.SeriesInstanceUID, seg.SOPInstanceUID) == tuple(UIDS.values())
    assert int(fast.NumberOfFrames) > 0
    assert list(differences(fast, reference, UNCOMPARED_VRS)) == []
    np.testing.assert_array_equal(
        fast.get_volume(combine_segments=False).array,
        reference.get_volume(combine_segments=False).array,
    )


def _with_empty_slice(content: SegmentationContent, k: int) -> SegmentationContent:
    labelmap = content.labelmap.copy()
    lesion_map = None if content.lesion_map is None else content.lesion_map.copy()
    labelmap[k] = 0
    if lesion_map is not None:
        lesion_map[k] = 0
    return SegmentationContent(labelmap, content.labels, content.algorithm, lesion_map)


def test_same_seg_as_highdicom_from_stacked_masks(ct_series) -> None:
    volume, headers = ct_series
    content = _with_empty_slice(demo_segmentation(SHAPE), 5)
    assert union_specs(plan_segments(content, EncodeConfig())), "the case needs unions"
    _assert_same_seg(volume, headers, content)
    assert build_seg(volume, headers, content, **UIDS).SegmentsOverlap == "YES"


@pytest.mark.parametrize(
    "config",
    [
        EncodeConfig(union_segments=False),
        EncodeConfig(union_segments=False, lesions_as_segments=False),
        EncodeConfig(lesions_as_segments=False),
    ],
)
def test_same_seg_as_highdicom_without_some_segments(ct_series, config: EncodeConfig) -> None:
    volume, headers = ct_series
    content = demo_segmentation(SHAPE)
    _assert_same_seg(volume, headers, content, config)
    if not union_specs(plan_segments(content, config)):
        assert build_seg(volume, headers, content, config, **UIDS).SegmentsOverlap == "NO"


def _ct_small_series(folder: Path, slices: int) -> tuple[list[Path], float]:
    """``slices`` copies of pydicom's ``CT_small.dcm`` stacked along the slice normal
    (new SOP Instance UIDs and instance numbers; every other attribute as in the file)."""
    folder.mkdir()
    paths = []
    source = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    origin = [float(v) for v in source.ImagePositionPatient]
    step = float(source.SliceThickness)
    for k in range(slices):
        ds = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
        ds.SOPInstanceUID = generate_uid()
        ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
        ds.InstanceNumber = k + 1
        ds.ImagePositionPatient = [
            format_number_as_ds(v) for v in (origin[0], origin[1], origin[2] + step * k)
        ]
        paths.append(folder / f"{k:03d}.dcm")
        ds.save_as(paths[-1], enforce_file_format=True)
    return paths, step


def test_same_seg_as_highdicom_on_pydicom_ct_small(tmp_path: Path) -> None:
    paths, _ = _ct_small_series(tmp_path / "ct", 8)
    volume = build_volume(paths, GeometryConfig(min_slices=5))
    headers = read_source_headers(volume)
    content = demo_segmentation(volume.shape)
    assert union_specs(plan_segments(content, EncodeConfig()))
    _assert_same_seg(volume, headers, _with_empty_slice(content, 3))
    _assert_same_seg(volume, headers, content, EncodeConfig(union_segments=False))


def test_same_seg_as_highdicom_with_a_multiframe_source(tmp_path: Path) -> None:
    write_series(tmp_path / "ct", SHAPE, Geometry(reverse_instances=True))
    image = enhanced(
        tmp_path / "ct", per_frame=GEOMETRY_MACROS, order=[3, 1, 4, 0, 9, 2, 6, 5, 8, 7]
    )
    volume = build_volume(
        [write(image, tmp_path / "mf") / "multiframe.dcm"], GeometryConfig(min_slices=5)
    )
    content = _with_empty_slice(demo_segmentation(SHAPE), 4)
    _assert_same_seg(volume, read_source_headers(volume), content)


def test_a_union_voxel_alone_on_its_plane(ct_series) -> None:
    volume, headers = ct_series
    content = _with_empty_slice(demo_segmentation(SHAPE), 5)
    content.labelmap[5, 0, 0] = 9  # a metastasis voxel outside every lesion component
    specs = plan_segments(content, EncodeConfig())
    frames = segment_frames(specs, content, slice(0, SHAPE[0]))
    assert frames is not None
    on_plane_5 = [specs[f.number - 1].tracking_id for f in frames if 5 in f.planes]
    # only union segments on the plane (the former path needed highdicom's stacked masks)
    assert on_plane_5 == ["Liver", "All liver metastases"]
    _assert_same_seg(volume, headers, content)


def test_frames_of_a_pixel_count_not_a_multiple_of_8_are_highdicoms(tmp_path: Path) -> None:
    shape = (SHAPE[0], SHAPE[1] - 1, SHAPE[2])
    volume, headers = write_series(tmp_path / "ct", shape)
    content = demo_segmentation(shape)
    specs = plan_segments(content, EncodeConfig())
    assert segment_frames(specs, content, slice(0, shape[0])) is None
    _assert_same_seg(volume, headers, content)


@pytest.mark.parametrize("k", [0, SHAPE[0] - 1])
def test_same_seg_when_an_end_slice_is_empty(ct_series, k: int) -> None:
    volume, headers = ct_series
    _assert_same_seg(volume, headers, _with_empty_slice(demo_segmentation(SHAPE), k))


def test_liver_with_one_part_in_view_is_a_union_segment(ct_series) -> None:
    # a thin slab can hold a single Couinaud segment: the derived liver is then made of one
    # label value, which the segment of that part has too (their frames overlap)
    volume, headers = ct_series
    full = demo_segmentation(SHAPE)
    segment_iv = next(v for v, s in full.labels.items() if s is Structure.COUINAUD_4)
    labelmap = np.where(full.labelmap == segment_iv, full.labelmap, 0).astype(full.labelmap.dtype)
    assert labelmap.any()
    content = SegmentationContent(labelmap, full.labels, full.algorithm, None)
    specs = plan_segments(content, EncodeConfig())
    assert [s.tracking_id for s in specs] == ["Liver", "Couinaud segment IV"]
    assert [s.tracking_id for s in union_specs(specs)] == ["Liver"]
    _assert_same_seg(volume, headers, content)


@pytest.mark.parametrize("union_segments", [True, False])
def test_same_seg_as_highdicom_with_planning_regions(ct_series, union_segments: bool) -> None:
    volume, headers = ct_series
    full = demo_segmentation(SHAPE)
    remnant = np.isin(full.labelmap, [5, 8])
    remnant[2, 0, :3] = True  # a voxel of the region outside every label (and its rows)
    content = SegmentationContent(
        full.labelmap, full.labels, full.algorithm, full.lesion_map,
        regions={Structure.FUTURE_LIVER_REMNANT: remnant,
                 Structure.RESECTED_LIVER: np.zeros_like(remnant)})
    specs = plan_segments(content, EncodeConfig(union_segments=union_segments))
    assert specs[-1].region is Structure.FUTURE_LIVER_REMNANT
    _assert_same_seg(volume, headers, content, EncodeConfig(union_segments=union_segments))
