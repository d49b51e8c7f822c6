"""The fork's event-driven reactors (dicomnode.scp._dul_reactor, _assoc_reactor) on
loopback: releases, aborts, network timeouts (A-ABORT or A-RELEASE) and broken PDUs end
associations as pynetdicom's own loops do."""

from __future__ import annotations

import socket
import struct
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import ReceivePathProbe, RecordingSink, echoscu, free_port, wait_for
from hostile_peer import (
    A_ABORT,
    A_ASSOCIATE_AC,
    A_RELEASE_RQ,
    IMPLICIT_VR_LITTLE_ENDIAN,
    VERIFICATION,
    a_release_rp,
    associate_rq,
    connect,
    read_pdu,
    read_until_closed,
)
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid
from pynetdicom import AE

from dicomnode.scp.config import ScpConfig
from dicomnode.scp.events import AssociationEnded, InstanceStored
from dicomnode.scp.server import RunningScp, start_scp
from dicomnode.scp.spool import SpoolWriter

pytestmark = pytest.mark.peers


@pytest.fixture
def scp(tmp_path: Path) -> Iterator[tuple[RunningScp, RecordingSink]]:
    config = ScpConfig(port=free_port(), network_timeout_s=1.0, acse_timeout_s=1.0)
    sink = RecordingSink()
    running = start_scp(config, SpoolWriter(tmp_path / "spool"), sink)
    yield running, sink
    running.stop(grace_s=1)


def _ct(sop_uid: str) -> Dataset:
    dataset = Dataset()
    dataset.file_meta = FileMetaDataset()
    dataset.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    dataset.SOPClassUID = CTImageStorage
    dataset.SOPInstanceUID = sop_uid
    dataset.StudyInstanceUID = "1.2.3"
    dataset.SeriesInstanceUID = "1.2.3.4"
    dataset.Modality = "CT"
    dataset.Rows = dataset.Columns = 2  # an image SOP class needs its Pixel Data
    dataset.SamplesPerPixel = 1
    dataset.PhotometricInterpretation = "MONOCHROME2"
    dataset.BitsAllocated = 8
    dataset.PixelData = bytes(4)
    return dataset


def _sender() -> AE:
    ae = AE(ae_title="DEMOSENDER")
    ae.add_requested_context(CTImageStorage, ExplicitVRLittleEndian)
    return ae


def test_stores_then_release_and_abort_end_their_associations(
    scp: tuple[RunningScp, RecordingSink],
) -> None:
    running, sink = scp
    released = _sender().associate("127.0.0.1", running.port, ae_title="DICOMNODE")
    assert released.is_established
    statuses = [released.send_c_store(_ct(generate_uid())).Status for _ in range(20)]
    released.release()
    aborted = _sender().associate("127.0.0.1", running.port, ae_title="DICOMNODE")
    assert aborted.send_c_store(_ct(generate_uid())).Status == 0
    aborted.abort()

    assert statuses == [0] * 20
    wait_for(lambda: len(sink.of(AssociationEnded)) == 2)
    assert sorted(e.aborted for e in sink.of(AssociationEnded)) == [False, True]
    assert len([e for e in sink.events if isinstance(e, InstanceStored)]) == 21


def test_idle_association_is_aborted_after_the_network_timeout(
    scp: tuple[RunningScp, RecordingSink],
) -> None:
    running, sink = scp
    idle = _sender().associate("127.0.0.1", running.port, ae_title="DICOMNODE")
    assert idle.is_established
    wait_for(lambda: idle.is_aborted, timeout_s=5.0)
    wait_for(lambda: [e.aborted for e in sink.of(AssociationEnded)] == [True])


def test_truncated_pdu_closes_the_connection_and_the_node_keeps_serving(
    scp: tuple[RunningScp, RecordingSink],
) -> None:
    running, _ = scp
    with socket.create_connection(("127.0.0.1", running.port)) as raw:
        raw.sendall(struct.pack(">BBL", 0x01, 0, 1000) + b"\0" * 10)  # A-ASSOCIATE-RQ, short
        raw.shutdown(socket.SHUT_WR)
        raw.settimeout(5.0)
        while raw.recv(4096):  # the node closes its side
            pass
    # As with pynetdicom's own reactors, the acceptor thread ends at the ACSE timeout.
    wait_for(lambda: not running.ae.active_associations)
    assert echoscu(running.port) == 0


@pytest.mark.parametrize(
    ("response", "peer_answers", "aborted"),
    [("A-ABORT", False, True), ("A-RELEASE", True, False), ("A-RELEASE", False, True)],
    ids=["abort", "release", "release-unanswered"],
)
def test_network_timeout_response_on_a_silent_peer(
    tmp_path: Path,
    receive_path: ReceivePathProbe,
    response: str,
    peer_answers: bool,
    aborted: bool,
) -> None:
    # A peer that associates and then goes silent: after network_timeout_s the node sends
    # an A-ABORT, or an A-RELEASE-RQ and waits acse_timeout_s for the A-RELEASE-RP (an
    # A-ABORT without it), as pynetdicom's own reactor does.
    config = ScpConfig.model_validate(
        {
            "port": free_port(),
            "network_timeout_s": 0.5,
            "acse_timeout_s": 1.0,
            "network_timeout_response": response,
            **receive_path.config(),
        }
    )
    sink = RecordingSink()
    running = start_scp(config, SpoolWriter(tmp_path / "spool"), sink)
    try:
        with connect(running.port) as peer:
            peer.sendall(associate_rq([(1, VERIFICATION, [IMPLICIT_VR_LITTLE_ENDIAN])]))
            assert read_pdu(peer, timeout_s=5.0)[0] == A_ASSOCIATE_AC
            first, _ = read_pdu(peer, timeout_s=5.0)  # sent after the network timeout
            if response == "A-ABORT":
                assert first == A_ABORT
            else:
                assert first == A_RELEASE_RQ
                if peer_answers:
                    peer.sendall(a_release_rp())
                    assert read_until_closed(peer, timeout_s=5.0) == b""
                else:
                    assert read_pdu(peer, timeout_s=5.0)[0] == A_ABORT
        wait_for(lambda: [e.aborted for e in sink.of(AssociationEnded)] == [aborted])
        assert echoscu(running.port) == 0
    finally:
        running.stop(grace_s=1)
