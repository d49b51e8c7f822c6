"""The File Meta Information written around received data sets matches pynetdicom's."""

from __future__ import annotations

from io import BytesIO

import pytest
from pydicom import dcmread
from pydicom.dataset import Dataset
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, ImplicitVRLittleEndian
from pynetdicom.dsutils import create_file_meta, encode, encode_file_meta

from dicomnode.scp.part10 import PREAMBLE, file_meta, part10_file


@pytest.mark.parametrize(
    ("sop_instance", "transfer_syntax"),
    [("1.2.3.44", ExplicitVRLittleEndian), ("1.2.3.4", ImplicitVRLittleEndian)],
)
def test_file_meta_is_byte_for_byte_pynetdicoms(sop_instance: str, transfer_syntax: str) -> None:
    expected = encode_file_meta(
        create_file_meta(
            sop_class_uid=CTImageStorage,
            sop_instance_uid=sop_instance,
            transfer_syntax=transfer_syntax,
        )
    )
    assert file_meta(CTImageStorage, sop_instance, transfer_syntax) == expected


def test_part10_file_reads_back_with_the_data_set_unchanged() -> None:
    dataset = Dataset()
    dataset.SOPClassUID = CTImageStorage
    dataset.SOPInstanceUID = "1.2.3.45"
    dataset.PatientName = "Doe^Jane"
    encoded = encode(dataset, True, True)
    assert encoded is not None
    data = part10_file(CTImageStorage, "1.2.3.45", ImplicitVRLittleEndian, encoded)
    assert data.startswith(PREAMBLE) and data.endswith(encoded)
    read = dcmread(BytesIO(data))
    assert read.file_meta.TransferSyntaxUID == ImplicitVRLittleEndian
    assert read.file_meta.MediaStorageSOPInstanceUID == "1.2.3.45"
    assert read.PatientName == "Doe^Jane"
