"""TID 1500 SR: read back with highdicom.sr.srread and checked group by group."""

from __future__ import annotations

import highdicom as hd
import pytest
from dicom_roundtrip import reread
from encode_report_fixture import report_content

from pipeline.encode import codes
from pipeline.encode.config import EncodeConfig, SegmentationType
from pipeline.encode.content import QualityFlag, RejectionContent, SeriesChoice
from pipeline.encode.seg import build_seg
from pipeline.encode.sr import build_rejection_sr, build_sr
from pipeline.structures import CATALOGUE, Structure


def _roundtrip(ds) -> hd.sr.Comprehensive3DSR:
    sr = reread(ds, hd.sr.srread)
    assert isinstance(sr, hd.sr.Comprehensive3DSR)
    return sr


@pytest.fixture(scope="module")
def seg_and_sr(ct_series, segmentation):
    volume, headers = ct_series
    seg = build_seg(volume, headers, segmentation)
    content = report_content(volume.series_instance_uid, segmentation.algorithm)
    return seg, _roundtrip(build_sr(seg, headers, content)), content


def _value(group, concept) -> tuple[float, str]:
    items = group.get_measurements(name=codes.coded(concept))
    assert len(items) == 1, concept
    return float(items[0].value), items[0].unit.value


def test_volumetric_groups_reference_the_seg_segments(seg_and_sr) -> None:
    seg, sr, content = seg_and_sr
    segments = {s.TrackingUID: s for s in seg.SegmentSequence}
    groups = sr.content.get_volumetric_roi_measurement_groups()
    # Lung (0 mL, no segment) is the only structure without a volumetric group.
    assert len(groups) == len(content.structures) - 1 + len(content.lesions)
    for group in groups:
        ref = group.referenced_segment
        segment = segments[group.tracking_uid]
        assert ref.referenced_sop_instance_uid == seg.SOPInstanceUID
        assert ref.referenced_segment_numbers == [segment.SegmentNumber]
        assert group.tracking_identifier == segment.TrackingID
        # TID 1411: the source series, not the SEG frames' source images again.
        assert ref.source_images_for_segmentation == []
        assert (
            ref.source_series_for_segmentation.value
            == seg.ReferencedSeriesSequence[0].SeriesInstanceUID
        )


def test_structure_volume_in_millilitres(seg_and_sr) -> None:
    seg, sr, _content = seg_and_sr
    liver = sr.content.get_volumetric_roi_measurement_groups(
        tracking_uid=next(s.TrackingUID for s in seg.SegmentSequence if s.TrackingID == "Liver")
    )[0]
    assert _value(liver, codes.VOLUME) == (pytest.approx(1612.5), "mL")


def test_lesion_group_has_volume_and_diameters(seg_and_sr) -> None:
    seg, sr, _ = seg_and_sr
    uid = next(s.TrackingUID for s in seg.SegmentSequence if s.TrackingID == "Lesion 1")
    lesion = sr.content.get_volumetric_roi_measurement_groups(tracking_uid=uid)[0]
    assert _value(lesion, codes.VOLUME) == (pytest.approx(30.5), "mL")
    assert _value(lesion, codes.LONG_AXIS) == (pytest.approx(42.1), "mm")
    assert _value(lesion, codes.SHORT_AXIS) == (pytest.approx(28.0), "mm")
    assert lesion.finding_sites[0].value.value == "277956007"  # Couinaud segment II


def test_missing_structure_is_a_plain_group_flagged_not_found(seg_and_sr) -> None:
    _, sr, _ = seg_and_sr
    lung = [g for g in sr.content.get_image_measurement_groups() if g.tracking_identifier == "Lung"]
    assert len(lung) == 1
    assert _value(lung[0], codes.VOLUME) == (0.0, "mL")
    evaluation = lung[0].get_qualitative_evaluations(name=codes.coded(codes.STRUCTURE_NOT_FOUND))[0]
    assert evaluation.value == codes.coded(codes.YES)


def _plain(sr, tracking_id: str):
    groups = [
        g for g in sr.content.get_image_measurement_groups() if g.tracking_identifier == tracking_id
    ]
    assert len(groups) == 1, tracking_id
    return groups[0]


def test_flr_sirt_tumour_and_constants_groups(seg_and_sr) -> None:
    _, sr, content = seg_and_sr
    flr = _plain(sr, "FLR Right hepatectomy")
    assert _value(flr, codes.FUTURE_LIVER_REMNANT) == (pytest.approx(612.0), "mL")
    assert _value(flr, codes.STANDARDISED_FLR) == (pytest.approx(35.2), "%")
    assert _value(flr, codes.TOTAL_ESTIMATED_LIVER_VOLUME)[0] == pytest.approx(1740.15)
    sirt = _plain(sr, "SIRT partition model")
    assert _value(sirt, codes.PLANNED_INJECTED_ACTIVITY) == (pytest.approx(3.2257), "GBq")
    assert _value(sirt, codes.LUNG_SHUNT_FRACTION) == (pytest.approx(10.0), "%")
    burden = _plain(sr, "Tumor burden")
    assert _value(burden, codes.TUMOUR_FRACTION) == (pytest.approx(2.56), "%")
    constants = _plain(sr, "Constants")
    assert _value(constants, content.constants[0].concept)[1] == "Gy.kg/GBq"


def test_confidence_review_flag_and_quality_flags(seg_and_sr) -> None:
    _, sr, _ = seg_and_sr
    confidence = _plain(sr, "Segmentation confidence")
    assert _value(confidence, codes.CONFIDENCE_SCORE)[0] == pytest.approx(0.91)
    review = confidence.get_qualitative_evaluations(name=codes.coded(codes.REVIEW_REQUIRED))
    assert review[0].value == codes.coded(codes.NO)
    for structure, expected in ((Structure.LIVER, 0.97), (Structure.METASTASIS, 0.71)):
        site = CATALOGUE[structure].type
        group = _plain(sr, f"Segmentation confidence: {site.meaning}")
        assert [s.value.value for s in group.finding_sites] == [site.value]
        assert _value(group, codes.STRUCTURE_CONFIDENCE)[0] == pytest.approx(expected)
    flags = _plain(sr, "Quality flags").get_qualitative_evaluations()
    assert [f.value.value for f in flags] == ["INCOMPLETE"]


def _texts(sr) -> list[str]:
    root = sr.ContentSequence
    return [
        item.TextValue
        for c in root
        if c.ValueType == "CONTAINER"
        and c.ConceptNameCodeSequence[0].CodeValue == codes.QUALITATIVE_EVALUATIONS.value
        for item in c.ContentSequence
    ]


def test_demo_notice_and_private_scheme_declared(seg_and_sr) -> None:
    _, sr, _ = seg_and_sr
    assert codes.DEMO_NOTICE in _texts(sr)
    assert "DEMO" in sr.SeriesDescription
    schemes = [s.CodingSchemeDesignator for s in sr.CodingSchemeIdentificationSequence]
    assert codes.PRIVATE_SCHEME in schemes


def test_labelmap_seg_liver_reported_without_segment(ct_series, segmentation) -> None:
    volume, headers = ct_series
    config = EncodeConfig(segmentation_type=SegmentationType.LABELMAP)
    seg = build_seg(volume, headers, segmentation, config)
    content = report_content(volume.series_instance_uid, segmentation.algorithm)
    sr = _roundtrip(build_sr(seg, headers, content, config))
    liver = _plain(sr, "Liver")
    assert _value(liver, codes.VOLUME)[0] == pytest.approx(1612.5)


def test_rejection_sr_names_the_reasons(ct_series, segmentation) -> None:
    _, headers = ct_series
    rejection = RejectionContent(
        (QualityFlag("NO_PORTAL_PHASE", "No portal-venous series in the study"),),
        (SeriesChoice("1.2.3", "Arterial 1mm", ("arterial phase",)),),
    )
    sr = _roundtrip(build_rejection_sr(headers[:1], rejection, segmentation.algorithm))
    group = _plain(sr, "Analysis not performed")
    reasons = group.get_qualitative_evaluations(name=codes.coded(codes.REJECTION_REASON))
    assert [r.value.value for r in reasons] == ["NO_PORTAL_PHASE"]
    assert any("Arterial 1mm" in t for t in _texts(sr))
    assert sr.StudyInstanceUID == headers[0].StudyInstanceUID
