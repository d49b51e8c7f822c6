"""Every rejection reason the selection can produce gives a rejection SR and PDF that
dciodvfy accepts (no Error), from a source that lacks every Type 2 attribute and whose SOP
Class UID is empty (the file meta holds it)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pydicom
import pytest
from encode_outputs import SHAPE, VENV_BIN
from encode_synthetic_ct import demo_segmentation

from pipeline.encode.content import QualityFlag, RejectionContent, SeriesChoice
from pipeline.encode.pdf import build_encapsulated_pdf, build_rejection_pdf
from pipeline.encode.sr import build_rejection_sr
from pipeline.select.reasons import CandidateReason, GeometryReason

pytestmark = pytest.mark.peers

ERROR = re.compile(r"^Error.*$", re.MULTILINE)

CT_TYPE2 = (
    "AccessionNumber", "AcquisitionNumber", "ContrastBolusAgent", "InstanceNumber", "KVP",
    "Manufacturer", "PatientBirthDate", "PatientID", "PatientName", "PatientSex",
    "PositionReferenceIndicator", "ReferringPhysicianName", "SeriesNumber", "SliceThickness",
    "StudyDate", "StudyID", "StudyTime",
)
"""Type 2 attributes of the CT Image IOD that a CT file may carry."""

REASONS = [r.value for r in CandidateReason] + [r.value for r in GeometryReason]


@pytest.fixture(scope="module")
def bare_source(outputs) -> pydicom.Dataset:
    """The first CT file of the encoded study, without Type 2 attributes or SOP Class UID."""
    ds = pydicom.dcmread(outputs.ct[0], stop_before_pixels=True)
    for keyword in CT_TYPE2:
        if keyword in ds:
            del ds[keyword]
    ds.SOPClassUID = ""
    return ds


def _errors(path: Path) -> list[str]:
    result = subprocess.run([str(VENV_BIN / "dciodvfy"), "-new", str(path)],
                            capture_output=True, text=True, timeout=120)
    return ERROR.findall(result.stdout + result.stderr)


@pytest.mark.parametrize("reason", REASONS)
def test_rejection_sr_and_pdf_are_valid_for_every_reason(reason: str, bare_source,
                                                         tmp_path: Path) -> None:
    message = f"no acceptable series among 1 candidate(s); best ranked: series (no number) " \
              f"'': {reason}: detail of the finding"
    rejection = RejectionContent(
        reasons=(QualityFlag("STUDY_REJECTED", message),),
        series_considered=(SeriesChoice(str(bare_source.SeriesInstanceUID), "",
                                        (f"{reason}: detail of the finding",)),))
    algorithm = demo_segmentation(SHAPE).algorithm
    sr = build_rejection_sr([bare_source], rejection, algorithm)
    sr.save_as(tmp_path / "sr.dcm")
    pdf = build_encapsulated_pdf(build_rejection_pdf(bare_source, rejection, algorithm),
                                 bare_source, algorithm)
    pdf.save_as(tmp_path / "pdf.dcm", enforce_file_format=True)
    assert _errors(tmp_path / "sr.dcm") == []
    assert _errors(tmp_path / "pdf.dcm") == []
