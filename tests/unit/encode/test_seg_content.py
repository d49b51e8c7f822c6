"""DICOM-SEG content: study/patient, series, codes, algorithm, tracking, read-back."""

from __future__ import annotations

import highdicom as hd
import numpy as np
import pytest
from dicom_roundtrip import reread
from encode_synthetic_ct import SHAPE
from pydicom.uid import SegmentationStorage

from pipeline.encode.config import EncodeConfig, SegmentationType
from pipeline.encode.content import AlgorithmInfo, SegmentationContent
from pipeline.encode.seg import DEMO_SUFFIX, EmptySegmentationError, build_seg
from pipeline.encode.segments import plan_segments, segment_mask
from pipeline.encode.source import SourceMismatchError, read_source_headers
from pipeline.structures import CATALOGUE, Structure


def _roundtrip(seg: hd.seg.Segmentation) -> hd.seg.Segmentation:
    return reread(seg, hd.seg.segread)


def test_new_series_in_the_source_study(ct_series, segmentation) -> None:
    volume, headers = ct_series
    seg = build_seg(volume, headers, segmentation)
    src = headers[0]
    for keyword in ("PatientName", "PatientID", "PatientBirthDate", "PatientSex",
                    "StudyInstanceUID", "AccessionNumber", "StudyDate", "StudyID"):
        assert seg.get(keyword) == src.get(keyword), keyword
    assert seg.SeriesInstanceUID != volume.series_instance_uid
    assert seg.FrameOfReferenceUID == volume.frame_of_reference_uid
    assert seg.SeriesNumber == EncodeConfig().seg_series_number
    assert seg.SegmentationType == "BINARY"
    assert seg.SeriesDescription.endswith(DEMO_SUFFIX)
    assert len(seg.SeriesDescription) <= 64


def test_segments_carry_catalogue_codes_algorithm_and_tracking(ct_series,
                                                                segmentation) -> None:
    volume, headers = ct_series
    seg = build_seg(volume, headers, segmentation)
    specs = plan_segments(segmentation, EncodeConfig())
    assert len(seg.SegmentSequence) == len(specs)
    uids = set()
    for item, spec in zip(seg.SegmentSequence, specs, strict=True):
        info = CATALOGUE[spec.info.structure]
        assert item.SegmentedPropertyTypeCodeSequence[0].CodeValue == info.type.value
        assert item.SegmentedPropertyCategoryCodeSequence[0].CodeValue == info.category.value
        assert item.SegmentAlgorithmType == "AUTOMATIC"
        algo = item.SegmentationAlgorithmIdentificationSequence[0]
        assert algo.AlgorithmName == segmentation.algorithm.name
        assert algo.AlgorithmVersion == segmentation.algorithm.version
        assert segmentation.algorithm.weights_sha256 in algo.AlgorithmParameters
        assert item.TrackingID == spec.tracking_id
        uids.add(item.TrackingUID)
    assert len(uids) == len(specs)


@pytest.mark.parametrize("segmentation_type", list(SegmentationType))
def test_highdicom_reads_back_every_segment(ct_series, segmentation,
                                            segmentation_type: SegmentationType) -> None:
    volume, headers = ct_series
    config = EncodeConfig(segmentation_type=segmentation_type)
    seg = _roundtrip(build_seg(volume, headers, segmentation, config))
    specs = plan_segments(segmentation, config)
    for spec in specs:
        pixels = seg.get_pixels_by_source_instance(
            source_sop_instance_uids=volume.sop_instance_uids,
            segment_numbers=[spec.number], combine_segments=False)
        assert np.array_equal(pixels[..., 0] > 0, segment_mask(spec, segmentation)), spec.label


def test_mismatched_sources_are_refused(ct_series, segmentation) -> None:
    volume, headers = ct_series
    with pytest.raises(SourceMismatchError):
        build_seg(volume, headers[::-1], segmentation)


def test_source_headers_are_read_in_slice_order(ct_series) -> None:
    volume, _ = ct_series
    headers = read_source_headers(volume)
    assert [h.SOPInstanceUID for h in headers] == volume.sop_instance_uids
    assert all("PixelData" not in h for h in headers)


def test_empty_label_map_is_refused(ct_series) -> None:
    volume, headers = ct_series
    empty = SegmentationContent(np.zeros(SHAPE, np.uint8), {1: Structure.LIVER},
                                AlgorithmInfo("m", "1", False))
    with pytest.raises(EmptySegmentationError):
        build_seg(volume, headers, empty)


def test_clinical_model_has_no_demo_notice(ct_series, segmentation) -> None:
    volume, headers = ct_series
    clinical = SegmentationContent(segmentation.labelmap, segmentation.labels,
                                   AlgorithmInfo("liver-nnunet", "2.0", False),
                                   segmentation.lesion_map)
    seg = build_seg(volume, headers, clinical)
    assert "DEMO" not in seg.SeriesDescription
    assert "demo" not in str(seg.SegmentSequence[0].SegmentationAlgorithmIdentificationSequence)


def test_written_file_parses_with_pydicom(ct_series, segmentation) -> None:
    volume, headers = ct_series
    ds = reread(build_seg(volume, headers, segmentation))
    assert ds.Modality == "SEG"
    assert ds.SOPClassUID == SegmentationStorage
