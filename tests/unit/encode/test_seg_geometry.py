"""Segment centroids recomputed from the WRITTEN SEG's geometry match the label map.

The SEG is serialised and read back with plain pydicom; each frame's pixels are mapped to
patient coordinates with that frame's ImagePositionPatient and the shared orientation and
pixel spacing only, independently of highdicom and of :class:`CTVolume`'s affine on the
SEG side. The same holds for a multi-frame (Enhanced CT) source whose frames are stored in
another order than the slices and carry their geometry per frame.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pydicom
import pytest
from dicom_roundtrip import reread
from encode_synthetic_ct import SHAPE, Geometry, demo_segmentation, write_series

from pipeline.encode.config import EncodeConfig, SegmentationType
from pipeline.encode.content import SegmentationContent
from pipeline.encode.seg import build_seg
from pipeline.encode.segments import plan_segments, segment_mask
from pipeline.encode.source import read_source_headers
from pipeline.select.config import GeometryConfig
from pipeline.select.frames import frame_headers
from pipeline.select.volume import build_volume
from pipeline.volume import CTVolume

sys.path.insert(0, str(Path(__file__).parents[2]))
from enhanced_ct import GEOMETRY_MACROS, enhanced, write

_C, _S = np.cos(np.deg2rad(25)), np.sin(np.deg2rad(25))
GEOMETRIES = {
    "axial": Geometry(),
    "negative-cosines": Geometry((-1.0, 0.0, 0.0), (0.0, -1.0, 0.0)),
    "swapped-axes-descending-z": Geometry((0.0, 1.0, 0.0), (1.0, 0.0, 0.0)),
    "reversed-instances": Geometry(reverse_instances=True),
    "oblique": Geometry((_C, _S, 0.0), (-0.6 * _S, 0.6 * _C, -0.8),
                        spacing_mm=(3.0, 0.9, 0.6), origin_mm=(12.0, -40.0, 55.0)),
}


def _frame_centroids(seg: pydicom.Dataset) -> dict[int, np.ndarray]:
    """Patient-space centroid (mm) of each segment from the SEG's own geometry."""
    shared = seg.SharedFunctionalGroupsSequence[0]
    iop = np.asarray(shared.PlaneOrientationSequence[0].ImageOrientationPatient, float)
    row_spacing, col_spacing = (float(v) for v in shared.PixelMeasuresSequence[0].PixelSpacing)
    row_dir, col_dir = iop[:3], iop[3:]  # along a row (columns), down a column (rows)
    pixels = seg.pixel_array.reshape(int(seg.NumberOfFrames), seg.Rows, seg.Columns)
    sums: dict[int, np.ndarray] = {}
    counts: dict[int, int] = {}
    for frame, item in zip(pixels, seg.PerFrameFunctionalGroupsSequence, strict=True):
        ipp = np.asarray(item.PlanePositionSequence[0].ImagePositionPatient, float)
        rows, cols = np.nonzero(frame)
        if seg.SegmentationType == "LABELMAP":
            numbers = frame[rows, cols].astype(int)
        else:
            number = int(item.SegmentIdentificationSequence[0].ReferencedSegmentNumber)
            numbers = np.full(rows.shape, number)
        pts = ipp + np.outer(cols * col_spacing, row_dir) + np.outer(rows * row_spacing, col_dir)
        for n in np.unique(numbers):
            sel = numbers == n
            sums[int(n)] = sums.get(int(n), np.zeros(3)) + pts[sel].sum(axis=0)
            counts[int(n)] = counts.get(int(n), 0) + int(sel.sum())
    return {n: sums[n] / counts[n] for n in sums}


def _written(seg) -> pydicom.Dataset:
    return reread(seg)


CONFIGS = {
    "binary": EncodeConfig(),
    "binary-no-unions": EncodeConfig(union_segments=False),
    "labelmap": EncodeConfig(segmentation_type=SegmentationType.LABELMAP),
}


@pytest.mark.parametrize("config_name", list(CONFIGS))
@pytest.mark.parametrize("name", list(GEOMETRIES))
def test_segment_centroids_match_mask(tmp_path: Path, name: str, config_name: str) -> None:
    volume, headers = write_series(tmp_path / "ct", SHAPE, GEOMETRIES[name])
    content = demo_segmentation(SHAPE)
    config = CONFIGS[config_name]
    seg = _written(build_seg(volume, headers, content, config))
    _assert_centroids(seg, volume, content, config, name)


def _assert_centroids(seg: pydicom.Dataset, volume: CTVolume, content: SegmentationContent,
                      config: EncodeConfig, name: str) -> None:
    centroids = _frame_centroids(seg)
    specs = plan_segments(content, config)
    assert sorted(centroids) == [s.number for s in specs]
    for spec in specs:
        idx = np.argwhere(segment_mask(spec, content)).mean(axis=0)
        expected = volume.index_to_patient(idx[None, :])[0]
        np.testing.assert_allclose(centroids[spec.number], expected, atol=1e-3,
                                   err_msg=f"{name}: segment {spec.label}")


SHUFFLED = [3, 1, 4, 0, 9, 2, 6, 5, 8, 7]
"""Order of the multi-frame source's frames (indices of the slices as written)."""


@pytest.mark.parametrize("config_name", list(CONFIGS))
@pytest.mark.parametrize("name", ["oblique", "negative-cosines", "reversed-instances"])
def test_segment_centroids_match_mask_with_a_multiframe_source(tmp_path: Path, name: str,
                                                               config_name: str) -> None:
    write_series(tmp_path / "ct", SHAPE, GEOMETRIES[name])
    image = enhanced(tmp_path / "ct", per_frame=GEOMETRY_MACROS, order=SHUFFLED)
    path = write(image, tmp_path / "mf") / "multiframe.dcm"
    geometry = GeometryConfig(min_slices=5)
    volume = build_volume([path], geometry)
    single = build_volume(sorted((tmp_path / "ct").iterdir()), geometry)
    np.testing.assert_allclose(volume.affine(), single.affine(), atol=1e-6)
    np.testing.assert_array_equal(volume.hu, single.hu)
    assert sorted(volume.frame_numbers) == list(range(1, SHAPE[0] + 1))
    assert volume.frame_numbers != sorted(volume.frame_numbers)
    content = demo_segmentation(SHAPE)
    config = CONFIGS[config_name]
    seg = _written(build_seg(volume, read_source_headers(volume), content, config))
    _assert_centroids(seg, volume, content, config, name)
    position_of = {f.frame_number: np.asarray(f.ImagePositionPatient, float)
                   for f in frame_headers(pydicom.dcmread(path, stop_before_pixels=True))}
    for item in seg.PerFrameFunctionalGroupsSequence:
        source = item.DerivationImageSequence[0].SourceImageSequence
        assert len(source) == 1 and source[0].ReferencedSOPInstanceUID == image.SOPInstanceUID
        ipp = np.asarray(item.PlanePositionSequence[0].ImagePositionPatient, float)
        np.testing.assert_allclose(position_of[int(source[0].ReferencedFrameNumber)], ipp,
                                   atol=1e-4)


@pytest.mark.parametrize("name", ["negative-cosines", "swapped-axes-descending-z"])
def test_each_frame_references_the_source_image_at_its_position(tmp_path: Path,
                                                                 name: str) -> None:
    volume, headers = write_series(tmp_path / "ct", SHAPE, GEOMETRIES[name])
    seg = _written(build_seg(volume, headers, demo_segmentation(SHAPE)))
    position_of = {h.SOPInstanceUID: np.asarray(h.ImagePositionPatient, float)
                   for h in headers}
    for item in seg.PerFrameFunctionalGroupsSequence:
        source = item.DerivationImageSequence[0].SourceImageSequence
        assert len(source) == 1
        ipp = np.asarray(item.PlanePositionSequence[0].ImagePositionPatient, float)
        np.testing.assert_allclose(position_of[source[0].ReferencedSOPInstanceUID], ipp,
                                   atol=1e-4)
