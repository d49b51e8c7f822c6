"""The header of a received data set read directly equals pydicom's reading of its file."""

from __future__ import annotations

import zlib
from typing import Any

import pytest
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence
from pydicom.uid import (
    CTImageStorage,
    DeflatedExplicitVRLittleEndian,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    JPEGLSLossless,
)
from pynetdicom.dsutils import encode

from dicomnode.scp.header import HeaderError, read_data_set_header, read_header
from dicomnode.scp.part10 import part10_file


def _dataset(**overrides: object) -> Dataset:
    dataset = Dataset()
    dataset.SOPClassUID = CTImageStorage
    dataset.SOPInstanceUID = "1.2.3.4.5"
    dataset.StudyInstanceUID = "1.2.3.4"
    dataset.SeriesInstanceUID = "1.2.3.4.6"
    dataset.PatientID = "P-17"
    dataset.PatientName = "Doe^Jane"
    dataset.AccessionNumber = "A123"
    dataset.StudyDate = "20261201"
    dataset.StudyDescription = "CT ABDOMEN"
    dataset.Modality = "CT"
    dataset.SeriesDescription = "PV 1.25mm"
    dataset.SeriesNumber = 4
    dataset.InstanceNumber = 12  # after Series Number: never read
    for keyword, value in overrides.items():
        if value is None:
            delattr(dataset, keyword)
        else:
            setattr(dataset, keyword, value)
    return dataset


def _encoded(dataset: Dataset, transfer_syntax: str) -> bytes:
    if transfer_syntax == DeflatedExplicitVRLittleEndian:
        plain = encode(dataset, False, True)
        assert plain is not None
        compressor = zlib.compressobj(wbits=-zlib.MAX_WBITS)
        return compressor.compress(plain) + compressor.flush()
    implicit = transfer_syntax == ImplicitVRLittleEndian
    encoded = encode(dataset, implicit, transfer_syntax != ExplicitVRBigEndian)
    assert encoded is not None
    return encoded


def _both(dataset: Dataset, transfer_syntax: str) -> tuple[object, object]:
    data_set = _encoded(dataset, transfer_syntax)
    whole = part10_file(
        str(dataset.get("SOPClassUID", "")),
        str(dataset.get("SOPInstanceUID", "")),
        transfer_syntax,
        data_set,
    )
    return read_data_set_header(data_set, transfer_syntax), read_header(whole)


SYNTAXES = [
    ImplicitVRLittleEndian,
    ExplicitVRLittleEndian,
    ExplicitVRBigEndian,
    DeflatedExplicitVRLittleEndian,
    JPEGLSLossless,
]


@pytest.mark.parametrize("transfer_syntax", SYNTAXES)
def test_all_fields_as_pydicom_reads_them(transfer_syntax: str) -> None:
    direct, reference = _both(_dataset(), transfer_syntax)
    assert direct == reference
    assert direct.fields["PatientName"] == "Doe^Jane"  # type: ignore[attr-defined]
    assert direct.fields["SeriesNumber"] == "4"  # type: ignore[attr-defined]


CASES: dict[str, dict[str, Any]] = {
    "empty and absent values": {"PatientName": "", "AccessionNumber": None, "SeriesNumber": ""},
    "character set": {
        "SpecificCharacterSet": "ISO_IR 192",
        "PatientName": "Müller^Zoë",
        "StudyDescription": "Leber – Portalvenös",
    },
    "Latin-1": {"SpecificCharacterSet": "ISO_IR 100", "PatientName": "Gåsø^Ærlig"},
    "multi-valued": {"Modality": ["CT", "PT"]},
    "no series UID": {"SeriesInstanceUID": None},
    "sequence before the last field": {
        "ReferencedStudySequence": Sequence([Dataset(), Dataset()]),
        "ProcedureCodeSequence": Sequence([Dataset()]),
    },
}


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("transfer_syntax", [ImplicitVRLittleEndian, ExplicitVRLittleEndian])
def test_special_values_as_pydicom_reads_them(case: str, transfer_syntax: str) -> None:
    overrides = CASES[case]
    if "ReferencedStudySequence" in overrides:
        items = overrides["ReferencedStudySequence"]
        items[0].ReferencedSOPClassUID = "1.2.840.10008.3.1.2.3.1"
        items[0].ReferencedSOPInstanceUID = "1.2.3.9"
        overrides["ProcedureCodeSequence"][0].CodeValue = "CTABD"
    direct, reference = _both(_dataset(**overrides), transfer_syntax)
    assert direct == reference


def test_undefined_length_sequence_is_skipped() -> None:
    dataset = _dataset()
    item = Dataset()
    item.CodeValue = "X"
    dataset.ProcedureCodeSequence = Sequence([item])
    dataset["ProcedureCodeSequence"].is_undefined_length = True
    item.is_undefined_length_sequence_item = True
    direct, reference = _both(dataset, ExplicitVRLittleEndian)
    assert direct == reference
    assert direct.series_instance_uid == "1.2.3.4.6"  # type: ignore[attr-defined]


@pytest.mark.parametrize("garbage", [b"\x08\x00\x16\x00UI\xff\xff1.2", zlib.compress(b"x" * 99)])
def test_unreadable_data_is_a_header_error_or_has_no_uids(garbage: bytes) -> None:
    try:
        header = read_data_set_header(garbage, DeflatedExplicitVRLittleEndian)
    except HeaderError as exc:
        assert "cannot be parsed" in str(exc)
    else:
        assert not header.sop_instance_uid and not header.sop_class_uid


def test_truncated_data_set_reads_as_pydicom_reads_it() -> None:
    data_set = _encoded(_dataset(), ExplicitVRLittleEndian)
    cut = data_set.index(b"1.2.3.4.5") + 3  # inside the SOP Instance UID value
    direct = read_data_set_header(data_set[:cut], ExplicitVRLittleEndian)
    reference = read_header(
        part10_file(CTImageStorage, "1.2", ExplicitVRLittleEndian, data_set[:cut])
    )
    assert direct == reference
    assert direct.sop_instance_uid == "1.2" and not direct.study_instance_uid
