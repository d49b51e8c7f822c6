"""Strict writing from tolerant reading: outputs built from headers that real scanners and
anonymisers produce (no Type 2 attributes, an empty SOP Class UID, invalid values)."""

from __future__ import annotations

import highdicom as hd
import pytest
from dicom_roundtrip import reread
from encode_report_fixture import report_content
from pydicom.dataset import Dataset
from pydicom.uid import CTImageStorage

from pipeline.encode.content import QualityFlag, RejectionContent
from pipeline.encode.pdf import build_encapsulated_pdf, build_rejection_pdf
from pipeline.encode.sanitise import TYPE2_PATIENT_STUDY, SourceHeaderError, sanitised
from pipeline.encode.seg import build_seg
from pipeline.encode.sr import build_rejection_sr, build_sr
from pipeline.errors import InputDataError

REJECTION = RejectionContent((QualityFlag("STUDY_REJECTED", "no portal-venous series"),))


def _as_read(ds: Dataset) -> Dataset:
    """A fresh copy of a header, as read from its file."""
    return reread(ds)


def _real_world(headers: list[Dataset]) -> list[Dataset]:
    """Copies without any Type 2 patient/study attribute and with an empty SOP Class UID."""
    out = []
    for header in headers:
        ds = _as_read(header)
        for keyword in TYPE2_PATIENT_STUDY:
            if keyword in ds:
                del ds[keyword]
        ds.SOPClassUID = ""
        out.append(ds)
    return out


def test_seg_is_built_from_sources_without_type2_and_sop_class(ct_series,
                                                              segmentation) -> None:
    volume, headers = ct_series
    seg = build_seg(volume, _real_world(headers), segmentation)
    for keyword in TYPE2_PATIENT_STUDY:
        assert keyword in seg and not seg[keyword].value, keyword
    assert seg.StudyInstanceUID == headers[0].StudyInstanceUID
    ref = seg.ReferencedSeriesSequence[0].ReferencedInstanceSequence[0]
    assert ref.ReferencedSOPClassUID == CTImageStorage


def test_sr_and_rejection_sr_are_built_from_such_sources(ct_series, segmentation) -> None:
    volume, headers = ct_series
    sources = _real_world(headers)
    seg = build_seg(volume, sources, segmentation)
    content = report_content(volume.series_instance_uid, segmentation.algorithm)
    for sr in (build_sr(seg, sources, content),
               build_rejection_sr(sources[:1], REJECTION, segmentation.algorithm)):
        assert sr.PatientBirthDate is None and sr.PatientName is None
        assert sr.StudyInstanceUID == headers[0].StudyInstanceUID
        evidence = sr.CurrentRequestedProcedureEvidenceSequence[0]
        classes = {i.ReferencedSOPClassUID
                   for i in evidence.ReferencedSeriesSequence[0].ReferencedSOPSequence}
        assert CTImageStorage in classes


def test_rejection_pdf_is_built_from_such_a_source(ct_series, segmentation) -> None:
    _, headers = ct_series
    (source,) = _real_world(headers[:1])
    pdf = build_rejection_pdf(source, REJECTION, segmentation.algorithm)
    enc = build_encapsulated_pdf(pdf, source, segmentation.algorithm)
    for keyword in TYPE2_PATIENT_STUDY:
        assert keyword in enc and not enc[keyword].value, keyword


@pytest.mark.lenient_dicom  # a source with a date that is not a DA
def test_sanitised_copy_leaves_the_source_alone(ct_series) -> None:
    _, headers = ct_series
    source = _as_read(headers[0])
    source.SOPClassUID = ""
    source.PatientSex = "MALE"  # not an enumerated value: written empty
    source.PatientBirthDate = "1970-01-01"  # not a DA: written empty
    source.PatientAge = "45"  # not an AS (Type 3): left out
    del source.StudyDate
    copy = sanitised(source)
    assert copy.SOPClassUID == CTImageStorage
    assert copy.PatientSex is None and copy.PatientBirthDate is None
    assert "PatientAge" not in copy and copy.StudyDate is None
    assert copy.PatientName == source.PatientName
    assert source.SOPClassUID == "" and source.PatientSex == "MALE"
    assert "StudyDate" not in source and source.PatientAge == "45"
    assert sanitised(copy).SOPClassUID == CTImageStorage  # idempotent


@pytest.mark.parametrize("keyword", ["StudyInstanceUID", "SeriesInstanceUID"])
def test_a_source_without_a_type1_identifier_is_an_input_error(ct_series, keyword) -> None:
    _, headers = ct_series
    source = _as_read(headers[0])
    del source[keyword]
    with pytest.raises(SourceHeaderError, match=keyword) as info:
        sanitised(source)
    assert isinstance(info.value, InputDataError)


def test_outputs_read_back(ct_series, segmentation) -> None:
    volume, headers = ct_series
    seg = build_seg(volume, _real_world(headers), segmentation)
    assert reread(seg, hd.seg.segread).StudyInstanceUID == headers[0].StudyInstanceUID
