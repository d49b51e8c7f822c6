"""The header of a received data set, read after a strict walk, equals pydicom's reading of
its file; the Part 10 reader and the data set reader are one path."""

from __future__ import annotations

import zlib
from io import BytesIO
from typing import Any

import pydicom
import pytest
from pydicom.dataset import Dataset
from pydicom.encaps import encapsulate
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

from dicomnode.scp.header import (
    HEADER_KEYWORDS,
    DataSetMismatchError,
    HeaderError,
    InstanceHeader,
    read_data_set_header,
    read_header,
)
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
    dataset.InstanceNumber = 12
    dataset.SamplesPerPixel = 1
    dataset.PhotometricInterpretation = "MONOCHROME2"
    dataset.Rows = dataset.Columns = 2
    dataset.BitsAllocated = dataset.BitsStored = 16
    dataset.HighBit = 15
    dataset.PixelRepresentation = 0
    dataset.PixelData = bytes(range(8))
    for keyword, value in overrides.items():
        if value is None:
            delattr(dataset, keyword)
        else:
            setattr(dataset, keyword, value)
    return dataset


def _encoded(dataset: Dataset, transfer_syntax: str) -> bytes:
    if transfer_syntax == JPEGLSLossless:  # fragments are not decoded at receive
        dataset.PixelData = encapsulate([b"\xff\xd8 not decoded \xff\xd9"])
        dataset["PixelData"].VR = "OB"
        dataset["PixelData"].is_undefined_length = True
    if transfer_syntax == DeflatedExplicitVRLittleEndian:
        plain = encode(dataset, False, True)
        assert plain is not None
        compressor = zlib.compressobj(wbits=-zlib.MAX_WBITS)
        return compressor.compress(plain) + compressor.flush()
    implicit = transfer_syntax == ImplicitVRLittleEndian
    encoded = encode(dataset, implicit, transfer_syntax != ExplicitVRBigEndian)
    assert encoded is not None
    return encoded


def _pydicom_header(whole: bytes) -> InstanceHeader:
    """The header as pydicom reads the whole file."""
    dataset = pydicom.dcmread(BytesIO(whole))
    fields = {k: str(dataset[k].value) for k in HEADER_KEYWORDS if dataset.get(k) not in (None, "")}
    return InstanceHeader(
        sop_class_uid=str(dataset.get("SOPClassUID", "")),
        sop_instance_uid=str(dataset.get("SOPInstanceUID", "")),
        study_instance_uid=str(dataset.get("StudyInstanceUID", "")),
        series_instance_uid=str(dataset.get("SeriesInstanceUID", "")),
        transfer_syntax_uid=str(dataset.file_meta.TransferSyntaxUID),
        fields=fields,
    )


def _both(dataset: Dataset, transfer_syntax: str) -> tuple[object, object]:
    data_set = _encoded(dataset, transfer_syntax)
    whole = part10_file(
        str(dataset.get("SOPClassUID", "")),
        str(dataset.get("SOPInstanceUID", "")),
        transfer_syntax,
        data_set,
    )
    direct = read_data_set_header(data_set, transfer_syntax)
    assert read_header(whole) == direct  # one path for the file and the data set
    return direct, _pydicom_header(whole)


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


@pytest.mark.parametrize("inside", [b"1.2.3.4.5", b"Doe^Jane", b"PV 1.25", bytes(range(8))])
def test_a_data_set_truncated_inside_a_value_is_a_header_error(inside: bytes) -> None:
    data_set = _encoded(_dataset(), ExplicitVRLittleEndian)
    cut = data_set.index(inside) + 3
    with pytest.raises(HeaderError, match="cannot be parsed"):
        read_data_set_header(data_set[:cut], ExplicitVRLittleEndian)
    with pytest.raises(HeaderError, match="cannot be parsed"):
        read_header(part10_file(CTImageStorage, "1.2", ExplicitVRLittleEndian, data_set[:cut]))


def test_a_data_set_ending_after_series_number_is_a_mismatch() -> None:
    data_set = _encoded(_dataset(), ExplicitVRLittleEndian)
    cut = data_set.index(b"\x20\x00\x11\x00IS\x02\x004 ") + 10  # element end
    with pytest.raises(DataSetMismatchError, match="no Pixel Data"):
        read_data_set_header(data_set[:cut], ExplicitVRLittleEndian)


def test_a_uid_keeps_what_pydicom_would_strip() -> None:
    dataset = _dataset()
    data_set = _encoded(dataset, ExplicitVRLittleEndian).replace(b"1.2.3.4\0", b"1.2.3.4\n")
    assert read_data_set_header(data_set, ExplicitVRLittleEndian).study_instance_uid == "1.2.3.4\n"
    padded = _encoded(dataset, ExplicitVRLittleEndian)
    assert read_data_set_header(padded, ExplicitVRLittleEndian).study_instance_uid == "1.2.3.4"


def test_a_key_element_with_another_vr_is_a_header_error() -> None:
    data_set = _encoded(_dataset(), ExplicitVRLittleEndian).replace(
        b"\x10\x00\x20\x00LO", b"\x10\x00\x20\x00DS"
    )
    with pytest.raises(HeaderError, match=r"\(0010,0020\) has VR"):
        read_data_set_header(data_set, ExplicitVRLittleEndian)


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"PixelData": None}, "no Pixel Data"),
        ({"PixelData": bytes(6)}, "the geometry needs 8"),
        ({"Rows": 3}, "the geometry needs 12"),
        ({"Rows": None}, "without a single-valued Rows"),
        ({"PhotometricInterpretation": None}, "Photometric Interpretation"),
        ({"PixelData": bytes(16)}, "more than 1 frames"),
    ],
)
def test_pixel_data_not_fitting_the_geometry_is_a_mismatch(
    change: dict[str, Any], reason: str
) -> None:
    data_set = _encoded(_dataset(**change), ExplicitVRLittleEndian)
    with pytest.raises(DataSetMismatchError, match=reason):
        read_data_set_header(data_set, ExplicitVRLittleEndian)


def test_an_instance_without_pixel_data_of_a_non_image_class_is_read() -> None:
    dataset = _dataset(PixelData=None, SOPClassUID="1.2.840.10008.5.1.4.1.1.88.33")
    assert read_data_set_header(_encoded(dataset, ExplicitVRLittleEndian), ExplicitVRLittleEndian)
