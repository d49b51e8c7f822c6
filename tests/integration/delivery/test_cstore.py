"""C-STORE SCU and C-ECHO against real peers on loopback (DCMTK, Orthanc, a scripted SCP)."""

from __future__ import annotations

import socket
import threading
from io import BytesIO
from pathlib import Path

import pytest
from pydicom import dcmread
from pydicom.uid import ImplicitVRLittleEndian, MRImageStorage, RLELossless
from pynetdicom import build_context
from pynetdicom.sop_class import Verification  # type: ignore[attr-defined]

from dicomnode.delivery.base import DeliveryStatus
from dicomnode.delivery.config import DimseDestinationConfig, DimseTimeouts
from dicomnode.delivery.dimse import CStoreSender, echo

pytestmark = pytest.mark.peers


def uids(paths: list[Path]) -> list[str]:
    return [str(dcmread(p, stop_before_pixels=True).SOPInstanceUID) for p in paths]


def dimse(port: int, called_aet: str, **kwargs: object) -> DimseDestinationConfig:
    return DimseDestinationConfig(
        name="test",
        host="127.0.0.1",
        port=port,
        called_aet=called_aet,
        timeouts=DimseTimeouts(connection_s=5, acse_s=5, dimse_s=5, network_s=5),
        **kwargs,  # type: ignore[arg-type]
    )


def test_batch_reaches_orthanc(orthanc, ct_files):
    outcomes = CStoreSender(dimse(orthanc.dicom_port, orthanc.aet)).send(ct_files)

    assert [o.status for o in outcomes] == [DeliveryStatus.SUCCESS] * len(ct_files)
    assert [o.sop_instance_uid for o in outcomes] == uids(ct_files)
    for path, outcome in zip(ct_files, outcomes, strict=True):
        assert outcome.path == path and outcome.dimse_status == 0x0000
        found = orthanc.lookup(outcome.sop_instance_uid)
        assert [f["Type"] for f in found] == ["Instance"]
        stored = dcmread(BytesIO(orthanc.instance_file(found[0]["ID"])))
        sent = dcmread(path)
        assert stored.SOPInstanceUID == sent.SOPInstanceUID
        assert stored.SeriesInstanceUID == sent.SeriesInstanceUID
        assert stored.PixelData == sent.PixelData


def test_orthanc_rejects_wrong_called_aet_permanently(orthanc, ct_files):
    outcomes = CStoreSender(dimse(orthanc.dicom_port, "NOTORTHANC")).send(ct_files[:2])

    assert [o.status for o in outcomes] == [DeliveryStatus.PERMANENT] * 2
    assert "rejected" in outcomes[0].detail
    assert orthanc.lookup(outcomes[0].sop_instance_uid) == []


def test_batch_reaches_storescp_on_one_association(storescp, ct_files):
    outcomes = CStoreSender(dimse(storescp.port, storescp.aet)).send(ct_files)

    assert {o.status for o in outcomes} == {DeliveryStatus.SUCCESS}
    received = sorted(storescp.folder.iterdir())
    assert sorted(uids(received)) == sorted(uids(ct_files))


def test_implicit_only_peer_gets_converted_native_files(scripted_scp, make_ct, tmp_path):
    """The scripted SCP accepts CT only as Explicit VR LE; Implicit VR files are converted."""
    files = make_ct(tmp_path / "implicit", 2, transfer_syntax=ImplicitVRLittleEndian)

    outcomes = CStoreSender(dimse(scripted_scp.port, scripted_scp.aet)).send(files)

    assert [o.status for o in outcomes] == [DeliveryStatus.SUCCESS] * 2
    assert scripted_scp.received == uids(files)


def test_compressed_file_without_accepted_context_is_permanent(scripted_scp, make_ct, tmp_path):
    """A compressed (RLE Lossless) file is sent as stored or not at all: this peer accepts
    only Explicit VR LE, so it is permanent, and the native file in the batch still goes."""
    native = make_ct(tmp_path / "native", 1)
    rle = make_ct(tmp_path / "rle", 1)
    dataset = dcmread(rle[0])
    dataset.compress(RLELossless)
    dataset.save_as(rle[0], enforce_file_format=True)

    outcomes = CStoreSender(dimse(scripted_scp.port, scripted_scp.aet)).send(rle + native)

    assert [o.status for o in outcomes] == [DeliveryStatus.PERMANENT, DeliveryStatus.SUCCESS]
    assert scripted_scp.received == uids(native)


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (0xA700, DeliveryStatus.TRANSIENT),
        (0xC000, DeliveryStatus.PERMANENT),
        (0xA900, DeliveryStatus.PERMANENT),
        (0x0122, DeliveryStatus.PERMANENT),
        (0xB000, DeliveryStatus.WARNING),
    ],
)
def test_scripted_statuses_are_classified(scripted_scp, ct_files, status, expected):
    scripted_scp.statuses = [0x0000, status, 0x0000]

    outcomes = CStoreSender(dimse(scripted_scp.port, scripted_scp.aet)).send(ct_files[:3])

    assert [o.status for o in outcomes] == [
        DeliveryStatus.SUCCESS,
        expected,
        DeliveryStatus.SUCCESS,
    ]
    assert outcomes[1].dimse_status == status
    assert f"0x{status:04X}" in outcomes[1].detail


def test_abort_mid_batch_leaves_the_rest_transient(scripted_scp, ct_files):
    scripted_scp.abort_at = 2

    outcomes = CStoreSender(dimse(scripted_scp.port, scripted_scp.aet)).send(ct_files)

    assert [o.status for o in outcomes] == [DeliveryStatus.SUCCESS] * 2 + [
        DeliveryStatus.TRANSIENT
    ] * 3
    assert scripted_scp.received == uids(ct_files[:2])


def test_no_response_within_dimse_timeout_is_transient(scripted_scp, ct_files):
    scripted_scp.delays_s = {1: 1.5}
    config = dimse(scripted_scp.port, scripted_scp.aet).model_copy(
        update={"timeouts": DimseTimeouts(connection_s=5, acse_s=5, dimse_s=0.5, network_s=5)}
    )

    outcomes = CStoreSender(config).send(ct_files[:3])

    assert [o.status for o in outcomes] == [DeliveryStatus.SUCCESS] + [DeliveryStatus.TRANSIENT] * 2
    assert outcomes[1].dimse_status is None
    assert "no C-STORE response" in outcomes[1].detail


def test_peer_accepting_no_proposed_context_is_permanent(scripted_scp, ct_files, tmp_path):
    """The scripted SCP supports CT only; an MR-classed file gets no presentation context."""
    mr = tmp_path / "mr.dcm"
    dataset = dcmread(ct_files[0])
    dataset.SOPClassUID = dataset.file_meta.MediaStorageSOPClassUID = MRImageStorage
    dataset.save_as(mr, enforce_file_format=True)

    outcomes = CStoreSender(dimse(scripted_scp.port, scripted_scp.aet)).send([mr])

    assert outcomes[0].status is DeliveryStatus.PERMANENT
    assert "presentation contexts" in outcomes[0].detail
    assert scripted_scp.received == []


def test_peer_down_is_transient(ct_files):
    with socket.socket() as s:  # a port that was free a moment ago; nothing listens
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]

    outcomes = CStoreSender(dimse(port, "NOBODY")).send(ct_files[:2])

    assert [o.status for o in outcomes] == [DeliveryStatus.TRANSIENT] * 2
    assert all(o.dimse_status is None for o in outcomes)


def test_unreadable_file_is_permanent_and_does_not_stop_the_batch(storescp, ct_files, tmp_path):
    junk = tmp_path / "junk.dcm"
    junk.write_bytes(b"not dicom")

    outcomes = CStoreSender(dimse(storescp.port, storescp.aet)).send([junk, ct_files[0]])

    assert [o.status for o in outcomes] == [DeliveryStatus.PERMANENT, DeliveryStatus.SUCCESS]


def test_tcp_nodelay_is_set_on_the_association_socket(storescp):
    assoc = CStoreSender(dimse(storescp.port, storescp.aet)).associate(
        [build_context(Verification)]
    )
    try:
        assert assoc.is_established and assoc.dul.socket is not None
        sock = assoc.dul.socket.socket
        assert sock is not None and sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
    finally:
        assoc.release()


def test_responses_stay_for_the_waiting_call_while_the_reactor_polls(storescp):
    """pynetdicom's association reactor may poll the DIMSE queue while ``send_*()`` waits for
    its response (a missed pause); a response it took was lost and the caller waited out its
    DIMSE timeout. A thread polling exactly as the reactor does must never get a response."""
    assoc = CStoreSender(dimse(storescp.port, storescp.aet)).associate(
        [build_context(Verification)]
    )
    taken: list[object] = []
    stop = threading.Event()

    def poll_like_the_reactor() -> None:
        while not stop.is_set():
            _, msg = assoc.dimse.get_msg(block=False)
            if msg is not None:
                taken.append(msg)

    poller = threading.Thread(target=poll_like_the_reactor)
    try:
        assert assoc.is_established
        poller.start()
        statuses = [assoc.send_c_echo().get("Status") for _ in range(50)]
    finally:
        stop.set()
        poller.join()
        assoc.release()

    assert statuses == [0x0000] * 50
    assert taken == []


def test_echo_storescp_and_orthanc(storescp, orthanc):
    for port, aet in [(storescp.port, storescp.aet), (orthanc.dicom_port, orthanc.aet)]:
        result = echo(dimse(port, aet))
        assert result.status is DeliveryStatus.SUCCESS
        assert result.dimse_status == 0x0000
        assert result.round_trip_ms > 0


def test_echo_rejected_and_down(orthanc):
    assert echo(dimse(orthanc.dicom_port, "WRONG")).status is DeliveryStatus.PERMANENT
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    assert echo(dimse(port, "NOBODY")).status is DeliveryStatus.TRANSIENT


def test_on_outcome_reports_each_instance_as_its_response_arrives(scripted_scp, ct_files):
    seen_by_peer_at_callback: list[int] = []

    outcomes = CStoreSender(dimse(scripted_scp.port, scripted_scp.aet)).send(
        ct_files, on_outcome=lambda _o: seen_by_peer_at_callback.append(len(scripted_scp.received))
    )

    assert seen_by_peer_at_callback == list(range(1, len(ct_files) + 1))
    assert len(outcomes) == len(ct_files)
