"""A hostile or broken peer on the DICOM port (issue "hostile network", findings 1 and 2):
claimed PDU lengths are never allocated, partial PDUs and slow negotiations are closed at
their deadlines, unknown or malformed PDUs are aborted at once, hostile connections never
take an allowed sender's place, and every refusal is published for the audit database."""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import RecordingSink, echoscu, free_port, wait_for
from hostile_peer import (
    A_ABORT,
    IMPLICIT_VR_LITTLE_ENDIAN,
    VERIFICATION,
    associate_rq,
    connect,
    pdu_header,
    read_until_closed,
    rss_bytes,
)
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid
from pynetdicom import AE

from dicomnode.scp.config import ScpConfig
from dicomnode.scp.events import ConnectionRefused
from dicomnode.scp.server import RunningScp, start_scp
from dicomnode.scp.slots import AssociationCounts
from dicomnode.scp.spool import SpoolWriter

pytestmark = pytest.mark.peers

GIB = 1 << 30


def _start(tmp_path: Path, **overrides: object) -> tuple[RunningScp, RecordingSink]:
    settings: dict[str, object] = {
        "port": free_port(),
        "acse_timeout_s": 5.0,
        "network_timeout_s": 5.0,
        "pdu_timeout_s": 1.0,
    }
    settings.update(overrides)
    sink = RecordingSink()
    config = ScpConfig.model_validate(settings)
    return start_scp(config, SpoolWriter(tmp_path / "spool"), sink), sink


@pytest.fixture
def scp(tmp_path: Path) -> Iterator[tuple[RunningScp, RecordingSink]]:
    running, sink = _start(tmp_path)
    yield running, sink
    running.stop(grace_s=1)


def _refusals(sink: RecordingSink, reason: str) -> list[ConnectionRefused]:
    return [event for event in sink.of(ConnectionRefused) if event.reason == reason]


def _ct() -> Dataset:
    dataset = Dataset()
    dataset.file_meta = FileMetaDataset()
    dataset.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    dataset.SOPClassUID = CTImageStorage
    dataset.SOPInstanceUID = generate_uid()
    dataset.StudyInstanceUID = "1.2.3"
    dataset.SeriesInstanceUID = "1.2.3.4"
    dataset.Modality = "CT"
    dataset.Rows = dataset.Columns = 2
    dataset.SamplesPerPixel = 1
    dataset.PhotometricInterpretation = "MONOCHROME2"
    dataset.BitsAllocated = dataset.BitsStored = 16
    dataset.HighBit = 15
    dataset.PixelRepresentation = 1
    dataset.PixelData = b"\0" * 8
    return dataset


def _allowed_sender_stores(port: int, count: int) -> list[int]:
    ae = AE(ae_title="DEMOSENDER")
    ae.add_requested_context(CTImageStorage, ExplicitVRLittleEndian)
    assoc = ae.associate("127.0.0.1", port, ae_title="DICOMNODE")
    assert assoc.is_established, "the allowed sender was not let in"
    statuses = [int(assoc.send_c_store(_ct()).Status) for _ in range(count)]
    assoc.release()
    return statuses


def test_claimed_lengths_are_never_allocated(tmp_path: Path) -> None:
    running, sink = _start(tmp_path, acse_timeout_s=2.0, pdu_timeout_s=10.0)
    before = rss_bytes()
    # 20 peers claim a 1 GiB A-ASSOCIATE-RQ (refused before reading), 20 claim one just
    # under the limit and trickle 2 bytes of it (held until the association deadline).
    claiming = [connect(running.port, f"127.0.0.{10 + i}") for i in range(20)]
    trickling = [connect(running.port, f"127.0.0.{40 + i}") for i in range(20)]
    for sock in claiming:
        sock.sendall(pdu_header(0x01, GIB) + b"\0\1")
    for sock in trickling:
        sock.sendall(pdu_header(0x01, 1024 * 1024 - 1) + b"\0\1")
    wait_for(lambda: len(_refusals(sink, "pdu_too_large")) == 20)
    grown = rss_bytes() - before
    try:
        for sock in claiming:
            assert read_until_closed(sock, timeout_s=2.0)[0] == A_ABORT
        for sock in trickling:
            read_until_closed(sock, timeout_s=6.0)
        wait_for(lambda: len(_refusals(sink, "association_deadline")) == 20)
    finally:
        for sock in claiming + trickling:
            sock.close()
        running.stop(grace_s=1)
    # Before: bytearray(claimed length) per connection, +1 GiB each.
    assert grown < 64 * 1024 * 1024, f"receiving process grew by {grown / 2**20:.0f} MiB"


def test_partial_connections_do_not_block_an_allowed_sender(
    scp: tuple[RunningScp, RecordingSink],
) -> None:
    running, sink = scp
    partial = [connect(running.port, "127.0.0.2") for _ in range(50)]
    try:
        for sock in partial:
            with contextlib.suppress(OSError):  # closed at once beyond the address limit
                sock.sendall(pdu_header(0x01, 1000) + b"\0" * 4)
        assert _allowed_sender_stores(running.port, 5) == [0] * 5
        # 16 connections per address: the other 34 were closed as soon as accepted.
        wait_for(lambda: len(_refusals(sink, "address_limit")) == 34)
    finally:
        for sock in partial:
            sock.close()


def test_a_partial_pdu_is_aborted_at_its_deadline(
    scp: tuple[RunningScp, RecordingSink],
) -> None:
    running, sink = scp
    with connect(running.port) as sock:
        sock.sendall(associate_rq([(1, VERIFICATION, [IMPLICIT_VR_LITTLE_ENDIAN])]))
        sock.settimeout(5.0)
        assert sock.recv(1)[0] == 0x02  # A-ASSOCIATE-AC
        time.sleep(0.2)
        sock.recv(65536)
        sock.sendall(pdu_header(0x04, 1000) + b"\0" * 4)  # P-DATA-TF, 4 of 1000 bytes
        started = time.monotonic()
        assert read_until_closed(sock, timeout_s=5.0)[0] == A_ABORT
        waited = time.monotonic() - started
    assert 0.5 < waited < 3.0  # pdu_timeout_s = 1, network and ACSE timeouts 5 s
    wait_for(lambda: len(_refusals(sink, "pdu_deadline")) == 1)


def test_an_unknown_pdu_type_is_aborted_at_once(scp: tuple[RunningScp, RecordingSink]) -> None:
    running, sink = scp
    with connect(running.port) as sock:
        sock.sendall(pdu_header(0x09, 4) + b"\0" * 4)
        abort = read_until_closed(sock, timeout_s=2.0)  # before the 5 s ACSE timeout
    assert abort[0] == A_ABORT and abort[9] == 0x01  # reason: unrecognized PDU
    wait_for(lambda: len(_refusals(sink, "unknown_pdu_type")) == 1)


@pytest.mark.parametrize(
    "contexts",
    [
        [(1, VERIFICATION, [])],  # no transfer syntax
        [(2, VERIFICATION, [IMPLICIT_VR_LITTLE_ENDIAN])],  # even presentation context ID
    ],
    ids=["no-transfer-syntax", "even-context-id"],
)
def test_requests_pynetdicom_cannot_negotiate_leave_no_thread_or_descriptor(
    scp: tuple[RunningScp, RecordingSink], contexts: list[tuple[int, str, list[str]]]
) -> None:
    running, sink = scp
    assert echoscu(running.port) == 0
    wait_for(lambda: not running.ae.active_associations)
    threads, descriptors = threading.active_count(), len(os.listdir("/proc/self/fd"))
    for _ in range(5):
        with connect(running.port) as sock:
            sock.sendall(associate_rq(contexts))
            assert read_until_closed(sock, timeout_s=3.0)[0] == A_ABORT
    wait_for(lambda: len(_refusals(sink, "protocol_error")) == 5)
    wait_for(lambda: threading.active_count() == threads)
    wait_for(lambda: len(os.listdir("/proc/self/fd")) == descriptors)
    assert echoscu(running.port) == 0


@pytest.mark.parametrize("direct_store", [True, False], ids=["direct", "pynetdicom-dimse"])
def test_a_data_set_beyond_the_limit_aborts_the_association(
    tmp_path: Path, direct_store: bool
) -> None:
    # Assembled by dicomnode.scp._store_dimse (direct_store) or by pynetdicom: both bounded.
    # 16 KiB PDUs: the data set arrives in fragments and is refused after the first 64 KiB.
    running, sink = _start(
        tmp_path,
        max_data_set_bytes=64 * 1024,
        maximum_pdu_size=16384,
        direct_store=direct_store,
    )
    try:
        ae = AE(ae_title="DEMOSENDER")
        ae.add_requested_context(CTImageStorage, ExplicitVRLittleEndian)
        assoc = ae.associate("127.0.0.1", running.port, ae_title="DICOMNODE")
        assert assoc.is_established
        large = _ct()
        large.Rows = large.Columns = 256
        large.PixelData = b"\0" * (256 * 256 * 2)  # 128 KiB
        assoc.send_c_store(large)
        wait_for(lambda: assoc.is_aborted)
        wait_for(lambda: len(_refusals(sink, "data_set_too_large")) == 1)
        assert list((tmp_path / "spool").rglob("*.dcm")) == []
        assert _allowed_sender_stores(running.port, 1) == [0]  # small ones still pass
    finally:
        running.stop(grace_s=1)


def test_the_association_limit_counts_every_receiving_process(tmp_path: Path) -> None:
    # Another receiving process (row 1) holds 3 associations; the node's limit is 4.
    table = [0, 3]
    config = ScpConfig(port=free_port(), max_associations=4)
    running = start_scp(
        config, SpoolWriter(tmp_path / "spool"), RecordingSink(), counts=AssociationCounts(table, 0)
    )
    ae = AE(ae_title="DEMOSENDER")
    ae.add_requested_context(CTImageStorage, ExplicitVRLittleEndian)
    try:
        first = ae.associate("127.0.0.1", running.port, ae_title="DICOMNODE")
        second = ae.associate("127.0.0.1", running.port, ae_title="DICOMNODE")
        assert first.is_established and table == [1, 3]
        assert second.is_rejected  # 4 established in all
        first.release()
        wait_for(lambda: table == [0, 3])
    finally:
        running.stop(grace_s=1)
