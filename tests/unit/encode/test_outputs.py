"""encode_study / encode_rejection / write_outputs."""

from __future__ import annotations

from pathlib import Path

import pydicom
from encode_report_fixture import report_content

from pipeline.encode.config import EncodeConfig
from pipeline.encode.content import QualityFlag, RejectionContent
from pipeline.encode.outputs import encode_rejection, encode_study, write_outputs


def test_study_outputs_reference_each_other(ct_series, segmentation, tmp_path: Path) -> None:
    volume, headers = ct_series
    content = report_content(volume.series_instance_uid, segmentation.algorithm)
    outputs = encode_study(volume, headers, segmentation, content)
    paths = write_outputs(outputs, tmp_path)
    modalities = [pydicom.dcmread(p).Modality for p in paths]
    assert modalities == ["SEG", "SR", "DOC"]
    assert outputs.pdf is not None and outputs.seg is not None
    referenced = {i.ReferencedSOPInstanceUID for i in outputs.pdf.SourceInstanceSequence}
    assert referenced == {outputs.seg.SOPInstanceUID, outputs.sr.SOPInstanceUID}
    series = {ds.SeriesInstanceUID for ds in outputs.instances()}
    assert len(series) == 3 and volume.series_instance_uid not in series


def test_pdf_can_be_switched_off(ct_series, segmentation) -> None:
    volume, headers = ct_series
    content = report_content(volume.series_instance_uid, segmentation.algorithm)
    outputs = encode_study(volume, headers, segmentation, content,
                           EncodeConfig(write_pdf=False))
    assert outputs.pdf is None
    assert [ds.Modality for ds in outputs.instances()] == ["SEG", "SR"]


def test_rejection_has_sr_and_pdf_but_no_seg(ct_series, segmentation) -> None:
    _, headers = ct_series
    rejection = RejectionContent((QualityFlag("NO_CT", "No CT image in the study"),))
    outputs = encode_rejection(headers[:1], rejection, segmentation.algorithm)
    assert outputs.seg is None
    assert [ds.Modality for ds in outputs.instances()] == ["SR", "DOC"]
