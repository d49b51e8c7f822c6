"""Malformed data sets sent over the network are refused, never spooled, with one log line.

Each case is a valid CT instance (64x64) changed the way issue 22 found acknowledged or
crashing: cut inside its Pixel Data or right after (0020,0011), a Pixel Data length of
0xFFFFFFF0, implicit-VR bytes on an explicit-VR context, a VR changed to FD with a length
that is not a multiple of 8, sequences nested 300 deep, a Study Instance UID ending in a
newline. pynetdicom sends the bytes as they are (its chunked send of a Part 10 file).
Every case runs over every receive path (conftest ``receive_path``).
"""

from __future__ import annotations

import logging
import struct
from collections.abc import Callable, Iterator
from io import BytesIO
from pathlib import Path

import pydicom
import pytest
from conftest import ReceivePathProbe, RecordingSink, echoscu, free_port, send_raw
from ct_series import write_ct_series
from pydicom.filebase import DicomBytesIO
from pydicom.filewriter import write_dataset
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian

from dicomnode.scp.config import ScpConfig
from dicomnode.scp.events import InstanceRefused, InstanceStored
from dicomnode.scp.header import read_header
from dicomnode.scp.part10 import part10_file
from dicomnode.scp.server import RunningScp, start_scp
from dicomnode.scp.spool import SpoolWriter
from dicomnode.scp.status import StoreStatus

pytestmark = pytest.mark.peers

STUDY_UID = "1.2.3.4.5"  # odd length: encoded with a NUL pad
PATIENT_VALUES = ("Synthetic", "SYNTH0001", STUDY_UID)


@pytest.fixture
def scp(
    tmp_path: Path, receive_path: ReceivePathProbe
) -> Iterator[tuple[RunningScp, RecordingSink, Path]]:
    sink = RecordingSink()
    spool = tmp_path / "spool"
    config = ScpConfig.model_validate({"port": free_port(), **receive_path.config()})
    running = start_scp(config, SpoolWriter(spool), sink)
    yield running, sink, spool
    running.stop(grace_s=1)


def _element_end(data: bytes, tag: int) -> int:
    """Offset after the explicit VR little endian top-level element ``tag`` (short VR)."""
    start = data.index(struct.pack("<HH", tag >> 16, tag & 0xFFFF))
    return start + 8 + int(struct.unpack_from("<H", data, start + 6)[0])


def _nested(depth: int) -> bytes:
    """(0040,0275) holding itself ``depth`` levels deep, all of undefined length."""
    content = b""
    for _ in range(depth):
        item = struct.pack("<HHL", 0xFFFE, 0xE000, 0xFFFFFFFF) + content
        item += struct.pack("<HHL", 0xFFFE, 0xE00D, 0)
        head = struct.pack("<HH2s2xL", 0x0040, 0x0275, b"SQ", 0xFFFFFFFF)
        content = head + item + struct.pack("<HHL", 0xFFFE, 0xE0DD, 0)
    return content


def _implicit(path: Path) -> bytes:
    buffer = DicomBytesIO()
    buffer.is_little_endian, buffer.is_implicit_VR = True, True
    write_dataset(buffer, pydicom.dcmread(path))
    return buffer.getvalue()


def _pixel_length(data: bytes, length: int) -> bytes:
    at = data.index(b"\xe0\x7f\x10\x00OW") + 8
    return data[:at] + struct.pack("<L", length) + data[at + 4 :]


def _fd_rows(data: bytes) -> bytes:
    return data.replace(b"\x28\x00\x10\x00US\x02\x00", b"\x28\x00\x10\x00FD\x02\x00", 1)


def _before_pixels(data: bytes, block: bytes) -> bytes:
    at = data.index(b"\xe0\x7f\x10\x00OW")
    return data[:at] + block + data[at:]


CASES: dict[str, tuple[Callable[[bytes, Path], bytes], StoreStatus]] = {
    "truncated mid pixel data": (lambda d, _: d[:-1000], StoreStatus.CANNOT_UNDERSTAND),
    "truncated after (0020,0011)": (
        lambda d, _: d[: _element_end(d, 0x00200011)],
        StoreStatus.DATA_SET_MISMATCH,
    ),
    "pixel data length 0xFFFFFFF0": (
        lambda d, _: _pixel_length(d, 0xFFFFFFF0),
        StoreStatus.CANNOT_UNDERSTAND,
    ),
    "implicit VR on an explicit context": (
        lambda _, p: _implicit(p),
        StoreStatus.CANNOT_UNDERSTAND,
    ),
    "VR changed to FD": (lambda d, _: _fd_rows(d), StoreStatus.CANNOT_UNDERSTAND),
    "sequences nested 300 deep": (
        lambda d, _: _before_pixels(d, _nested(300)),
        StoreStatus.CANNOT_UNDERSTAND,
    ),
    "study UID ending in a newline": (
        lambda d, _: d.replace(STUDY_UID.encode() + b"\0", STUDY_UID.encode() + b"\n"),
        StoreStatus.INVALID_UID,
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_malformed_data_set_is_refused_and_not_spooled(
    scp: tuple[RunningScp, RecordingSink, Path],
    receive_path: ReceivePathProbe,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    case: str,
) -> None:
    running, sink, spool = scp
    [source] = write_ct_series(tmp_path / "ct", 1, study_uid=STUDY_UID, series_uid="1.2.3.4.6")
    sop_instance = str(pydicom.dcmread(source).SOPInstanceUID)
    stream = BytesIO(source.read_bytes())
    pydicom.filereader.read_preamble(stream, False)
    pydicom.filereader._read_file_meta_info(stream)
    mutate, expected = CASES[case]
    data_set = mutate(stream.read(), source)
    bad = tmp_path / "bad.dcm"
    bad.write_bytes(part10_file(CTImageStorage, sop_instance, ExplicitVRLittleEndian, data_set))

    with caplog.at_level(logging.INFO):
        status = send_raw(running.port, bad)

    assert status == expected
    assert list(spool.rglob("*.dcm")) == [] and list(spool.rglob("*.part")) == []
    [refused] = sink.of(InstanceRefused)
    assert refused.status == expected and refused.sop_instance_uid == sop_instance
    records = [r for r in caplog.records if r.name.startswith("dicomnode")]
    problems = [r for r in records if r.levelno >= logging.WARNING]
    assert len(problems) == 1 and problems[0].levelno == logging.WARNING
    assert problems[0].exc_info is None and f"0x{int(expected):04X}" in problems[0].getMessage()
    for record in records:
        assert not any(value in record.getMessage() for value in PATIENT_VALUES)
    assert echoscu(running.port) == 0
    receive_path.check(1)


def test_an_empty_sop_class_uid_is_taken_from_the_request_and_noted(
    scp: tuple[RunningScp, RecordingSink, Path], receive_path: ReceivePathProbe, tmp_path: Path
) -> None:
    running, sink, spool = scp
    [source] = write_ct_series(tmp_path / "ct", 1, study_uid=STUDY_UID, series_uid="1.2.3.4.6")
    dataset = pydicom.dcmread(source)
    dataset.SOPClassUID = ""  # as some anonymisers leave it; the file meta keeps it
    emptied = tmp_path / "emptied.dcm"
    dataset.save_as(emptied, enforce_file_format=True)

    assert send_raw(running.port, emptied) == StoreStatus.SUCCESS

    [stored] = sink.of(InstanceStored)
    assert stored.sop_class_uid == CTImageStorage
    assert stored.assumed == (
        "SOP Class UID empty in the data set; taken from the C-STORE request: CT Image Storage",
    )
    [spooled] = list(spool.rglob("*.dcm"))
    assert read_header(spooled).assumed == (
        "SOP Class UID empty in the data set; taken from the file meta: CT Image Storage",
    )
    receive_path.check(1)
