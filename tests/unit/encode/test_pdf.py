"""The PDF summary and its Encapsulated PDF Storage object."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pydicom
import pytest
from encode_report_fixture import report_content
from pydicom.uid import EncapsulatedPDFStorage

from pipeline.encode.content import AlgorithmInfo, QualityFlag, RejectionContent
from pipeline.encode.pdf import build_encapsulated_pdf, build_pdf, build_rejection_pdf

PDFTOTEXT = shutil.which("pdftotext") or "/usr/bin/pdftotext"


def _text(pdf: bytes, tmp_path: Path) -> str:
    path = tmp_path / "summary.pdf"
    path.write_bytes(pdf)
    return subprocess.run([PDFTOTEXT, "-layout", str(path), "-"], check=True,
                          capture_output=True, text=True).stdout


@pytest.fixture(scope="module")
def summary(ct_series, segmentation) -> bytes:
    volume, headers = ct_series
    content = report_content(volume.series_instance_uid, segmentation.algorithm)
    return build_pdf(volume, headers[0], segmentation, content)


def test_pdf_holds_series_tables_flags_and_banner(summary: bytes, ct_series,
                                                  tmp_path: Path) -> None:
    volume, _ = ct_series
    text = _text(summary, tmp_path)
    assert text.count("DEMO MODEL, NOT FOR CLINICAL USE") >= 2  # every page
    for expected in (volume.series_instance_uid, "portal-venous phase", "1612.5",
                     "Right hepatectomy", "Lesion 1", "42.1", "SIRT partition model", "3.226",
                     "INCOMPLETE", "Review required: no", "Segmentation overlays",
                     "Y-90 energy"):
        assert expected in text, expected


def test_clinical_model_pdf_has_no_banner(ct_series, segmentation, tmp_path: Path) -> None:
    volume, headers = ct_series
    content = report_content(volume.series_instance_uid, AlgorithmInfo("m", "2", False))
    text = _text(build_pdf(volume, headers[0], segmentation, content), tmp_path)
    assert "DEMO" not in text


def test_encapsulated_pdf_joins_the_study(summary: bytes, ct_series, tmp_path: Path,
                                          segmentation) -> None:
    _, headers = ct_series
    ds = build_encapsulated_pdf(summary, headers[0], segmentation.algorithm)
    path = tmp_path / "pdf.dcm"
    ds.save_as(path, enforce_file_format=True)
    back = pydicom.dcmread(path)
    assert back.SOPClassUID == EncapsulatedPDFStorage
    assert back.StudyInstanceUID == headers[0].StudyInstanceUID
    assert back.PatientID == headers[0].PatientID
    assert back.SeriesInstanceUID != headers[0].SeriesInstanceUID
    assert back.EncapsulatedDocument[:back.EncapsulatedDocumentLength] == summary
    assert "DEMO" in back.SeriesDescription


def test_rejection_pdf_names_the_reason(ct_series, tmp_path: Path) -> None:
    _, headers = ct_series
    rejection = RejectionContent((QualityFlag("GANTRY_TILT", "Gantry tilt 12 degrees"),))
    text = _text(build_rejection_pdf(headers[0], rejection, AlgorithmInfo("m", "1", True)),
                 tmp_path)
    assert "GANTRY_TILT: Gantry tilt 12 degrees" in text
    assert "DEMO MODEL" in text


def test_non_pdf_bytes_are_refused(ct_series, segmentation) -> None:
    _, headers = ct_series
    with pytest.raises(ValueError, match="not a PDF"):
        build_encapsulated_pdf(b"hello", headers[0], segmentation.algorithm)
