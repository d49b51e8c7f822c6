"""Outbox + real senders against real peers: a destination down then up, a permanent
rejection, an association aborted mid-batch, and a restart while sending.

Each test records a succeeded job whose outputs are real DICOM files, runs the outbox with
the production :class:`CStoreSender`, and checks both sides: what the peer stored and the
delivery state in the audit database.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
from loopback_peers import PEER_ENV, OrthancPeer, free_port, stop, wait_for_port
from pydicom import dcmread
from twin_clock import Clock

from dicomnode.audit.engine import create_audit_engine
from dicomnode.audit.log import AuditLog
from dicomnode.audit.rows import DeliveryState
from dicomnode.delivery.config import DimseDestinationConfig
from dicomnode.delivery.dimse import CStoreSender
from dicomnode.outbox.config import OutboxConfig
from dicomnode.outbox.outbox import Outbox

STORESCP = Path("/usr/bin/storescp")
CONFIG = OutboxConfig(max_attempts=4, backoff_base_s=30, backoff_max_s=60, batch_size=10)


@pytest.fixture
def audit(tmp_path: Path, clock: Clock) -> AuditLog:
    """A migrated SQLite audit log reading ``clock``."""
    url = f"sqlite:///{tmp_path / 'audit.sqlite3'}"
    log = AuditLog.from_url(url)
    log.upgrade()
    log.dispose()
    return AuditLog(create_audit_engine(url), clock=clock)


def succeeded_job(audit: AuditLog, outputs: list[Path]) -> int:
    """A job that succeeded with ``outputs`` (real DICOM files) as its results."""
    first = dcmread(outputs[0], stop_before_pixels=True)
    audit.record_instance(
        association_id=None,
        sop_instance_uid="1.2.826.0.1.9.1",
        sop_class_uid="1.2.840.10008.5.1.4.1.1.2",
        transfer_syntax_uid="1.2.840.10008.1.2.1",
        study_instance_uid=str(first.StudyInstanceUID),
        series_instance_uid="1.2.826.0.1.9",
        path="/spool/input.dcm",
        size_bytes=1,
        status="stored",
        reason=None,
        header={},
    )
    job_id = audit.create_job(
        study_instance_uid=str(first.StudyInstanceUID),
        series_instance_uids=["1.2.826.0.1.9"],
        calling_ae=None,
    )
    assert audit.claim_next_job("node/1") is not None
    for path in outputs:
        ds = dcmread(path, stop_before_pixels=True)
        audit.record_output(
            job_id,
            path=str(path),
            sop_instance_uid=str(ds.SOPInstanceUID),
            sop_class_uid=str(ds.SOPClassUID),
            kind="SEG",
        )
    audit.finish_job(job_id, state="succeeded")
    return job_id


def sender(port: int, called_aet: str) -> CStoreSender:
    """The production C-STORE sender to a loopback peer."""
    return CStoreSender(
        DimseDestinationConfig(
            name="pacs", host="127.0.0.1", port=port, called_aet=called_aet,
            calling_aet="DICOMNODE",
        )
    )


def states(audit: AuditLog, job_id: int) -> list[DeliveryState]:
    """Delivery states of the job's outputs, in output order."""
    return [d.state for d in audit.get_job(job_id).deliveries]


def test_destination_down_then_up_is_delivered_exactly_once(
    audit: AuditLog, clock: Clock, ct_files: list[Path], tmp_path: Path
) -> None:
    job_id = succeeded_job(audit, ct_files)
    port, received = free_port(), tmp_path / "received"
    received.mkdir()
    outbox = Outbox(audit, {"pacs": sender(port, "RCV")}, CONFIG, clock=clock)
    assert outbox.run_once() == len(ct_files)  # nobody listens: every send is transient
    assert states(audit, job_id) == [DeliveryState.PENDING] * len(ct_files)
    process = subprocess.Popen(
        [str(STORESCP), "-aet", "RCV", "-od", str(received), str(port)],
        env=PEER_ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port, process)
        assert outbox.run_once() == 0  # not due before the back-off
        clock.advance(30)
        assert outbox.run_once() == len(ct_files)
        assert outbox.run_once() == 0
    finally:
        stop(process)
    assert states(audit, job_id) == [DeliveryState.DELIVERED] * len(ct_files)
    stored = sorted(str(dcmread(p).SOPInstanceUID) for p in received.iterdir())
    expected = sorted(str(dcmread(p).SOPInstanceUID) for p in ct_files)
    assert stored == expected  # each exactly once


def test_permanent_rejection_is_dead_lettered_without_a_retry_storm(
    audit: AuditLog, clock: Clock, ct_files: list[Path], orthanc: OrthancPeer
) -> None:
    job_id = succeeded_job(audit, ct_files)
    outbox = Outbox(audit, {"pacs": sender(orthanc.dicom_port, "NOT-ORTHANC")}, CONFIG,
                    clock=clock)
    assert outbox.run_once() == len(ct_files)
    for _ in range(3):
        clock.advance(3600)
        assert outbox.run_once() == 0  # nothing is sent again
    detail = audit.get_job(job_id)
    assert [d.state for d in detail.deliveries] == [DeliveryState.DEAD_LETTERED] * len(ct_files)
    assert len(detail.delivery_attempts) == len(ct_files)
    assert all(d.last_status == "permanent" for d in detail.deliveries)


def test_abort_mid_batch_resends_only_the_rest(
    audit: AuditLog, clock: Clock, ct_files: list[Path], scripted_scp: Any
) -> None:
    job_id = succeeded_job(audit, ct_files)
    scripted_scp.abort_at = 2  # stores two, then aborts the association
    outbox = Outbox(audit, {"pacs": sender(scripted_scp.port, scripted_scp.aet)}, CONFIG,
                    clock=clock)
    outbox.run_once()
    assert states(audit, job_id)[:2] == [DeliveryState.DELIVERED] * 2
    assert DeliveryState.PENDING in states(audit, job_id)
    scripted_scp.abort_at = None
    clock.advance(30)
    outbox.run_once()
    assert states(audit, job_id) == [DeliveryState.DELIVERED] * len(ct_files)
    expected = [str(dcmread(p).SOPInstanceUID) for p in ct_files]
    assert sorted(scripted_scp.received) == sorted(expected)  # no duplicates


def test_a_new_outbox_resumes_what_the_stopped_one_left(
    audit: AuditLog, clock: Clock, ct_files: list[Path], storescp: Any
) -> None:
    job_id = succeeded_job(audit, ct_files)
    first = Outbox(audit, {"pacs": sender(storescp.port, storescp.aet)},
                   CONFIG.model_copy(update={"batch_size": 2}), clock=clock)
    first.run_once()  # one batch of two, then the node stops
    assert states(audit, job_id).count(DeliveryState.DELIVERED) == 2
    restarted = Outbox(audit, {"pacs": sender(storescp.port, storescp.aet)}, CONFIG,
                       clock=clock)
    restarted.run_once()
    assert states(audit, job_id) == [DeliveryState.DELIVERED] * len(ct_files)
    assert len(list(storescp.folder.iterdir())) == len(ct_files)
