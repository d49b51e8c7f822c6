"""Receive records into a real SQLite audit database, and start-up spool reconciliation."""

from __future__ import annotations

import queue
import sqlite3
import threading
from pathlib import Path

import pytest
from dicom_roundtrip import dicom_bytes
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import UID, CTImageStorage, ExplicitVRLittleEndian

from dicomnode.audit.engine import create_audit_engine
from dicomnode.audit.log import AuditLog
from dicomnode.completion import CompletionConfig, CompletionTracker
from dicomnode.intake import recorder as recorder_module
from dicomnode.intake.reconcile import RECOVERED_REASON, reconcile_spool
from dicomnode.intake.recorder import QueueDrain, ReceiveRecorder
from dicomnode.scp.events import (
    AssociationAccepted,
    AssociationEnded,
    AssociationInfo,
    AssociationRefused,
    InstanceRefused,
    InstanceStored,
    ReceiveEvent,
)
from dicomnode.scp.spool import QUARANTINE_FOLDER, SpoolWriter

STUDY, SERIES = "1.2.3", "1.2.3.4"
PEER = AssociationInfo("k1", "DEMOSENDER", "DICOMNODE", "127.0.0.1", 40000)


@pytest.fixture
def audit(tmp_path: Path) -> AuditLog:
    log = AuditLog(create_audit_engine(f"sqlite:///{tmp_path / 'audit.sqlite3'}"))
    log.upgrade()
    return log


def _rows(tmp_path: Path, sql: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(tmp_path / "audit.sqlite3") as db:
        return list(db.execute(sql))


def _part10(sop_uid: str) -> bytes:
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = CTImageStorage
    meta.MediaStorageSOPInstanceUID = UID(sop_uid)
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    dataset = Dataset()
    dataset.file_meta = meta
    dataset.SOPClassUID = CTImageStorage
    dataset.SOPInstanceUID = sop_uid
    dataset.StudyInstanceUID = STUDY
    dataset.SeriesInstanceUID = SERIES
    dataset.Modality = "CT"
    dataset.SamplesPerPixel = 1
    dataset.PhotometricInterpretation = "MONOCHROME2"
    dataset.Rows = dataset.Columns = 2
    dataset.BitsAllocated = 8
    dataset.PixelData = bytes(4)
    return dicom_bytes(dataset)


def _stored(spool: SpoolWriter, sop_uid: str) -> InstanceStored:
    data = _part10(sop_uid)
    spooled = spool.write(STUDY, SERIES, sop_uid, data)
    return InstanceStored(
        PEER,
        CTImageStorage,
        sop_uid,
        STUDY,
        SERIES,
        ExplicitVRLittleEndian,
        str(spooled.path),
        spooled.size_bytes,
        spooled.replaced,
        {"Modality": "CT"},
        0.0,
    )


def test_recorder_writes_associations_instances_and_rejections(
    tmp_path: Path, audit: AuditLog
) -> None:
    tracker = CompletionTracker(CompletionConfig())
    recorder = ReceiveRecorder(audit, tracker)
    spool = SpoolWriter(tmp_path / "spool")
    recorder.record(AssociationAccepted(PEER, 0.0))
    recorder.record(_stored(spool, "1.2.3.4.1"))
    recorder.record(_stored(spool, "1.2.3.4.1"))  # duplicate
    recorder.record(InstanceRefused(PEER, CTImageStorage, "1.2.3.4.9", 0xA700, "disk full", 0.0))
    recorder.record(AssociationEnded(PEER, False, 0.0))
    recorder.record(
        AssociationRefused(
            AssociationInfo("k2", "INTRUDER", "DICOMNODE", "10.0.0.9", 1), "not allowed", 0.0
        )
    )
    assert _rows(tmp_path, "SELECT status, reason FROM instances ORDER BY id") == [
        ("stored", None),
        ("duplicate", "duplicate: file overwritten"),
        ("rejected", "0xA700: disk full"),
    ]
    assert _rows(
        tmp_path, "SELECT calling_ae, accepted, reject_reason, instances FROM associations"
    ) == [("DEMOSENDER", 1, None, 2), ("INTRUDER", 0, "not allowed", 0)]
    assert len(tracker) == 1


def test_reconcile_records_orphans_removes_parts_and_flags_missing(
    tmp_path: Path, audit: AuditLog
) -> None:
    spool = SpoolWriter(tmp_path / "spool")
    recorder = ReceiveRecorder(audit, CompletionTracker(CompletionConfig()))
    recorded = _stored(spool, "1.2.3.4.1")
    recorder.record(recorded)
    gone = _stored(spool, "1.2.3.4.2")
    recorder.record(gone)
    Path(gone.path).unlink()  # a row whose file is missing
    _stored(spool, "1.2.3.4.3")  # a durable file whose row never made it (crash)
    part = spool.root / STUDY / SERIES / "1.2.3.4.4.dcm.1-1.part"
    part.write_bytes(b"half")

    report = reconcile_spool(spool, audit)

    assert (report.partial_removed, report.recorded, report.missing) == (1, 1, 1)
    assert report.series == ((STUDY, SERIES),)
    assert not part.exists()
    assert _rows(
        tmp_path, "SELECT sop_instance_uid, reason FROM instances WHERE reason IS NOT NULL"
    ) == [("1.2.3.4.3", RECOVERED_REASON)]
    events = _rows(tmp_path, "SELECT kind, detail FROM service_events")
    assert events == [("spool_file_missing", gone.path)]
    again = reconcile_spool(spool, audit)
    assert (again.recorded, again.partial_removed) == (0, 0)


def test_reconcile_quarantines_an_unreadable_file_instead_of_recording_it(
    tmp_path: Path, audit: AuditLog
) -> None:
    spool = SpoolWriter(tmp_path / "spool")
    _stored(spool, "1.2.3.4.1")
    data = _part10("1.2.3.4.2")
    spool.write(STUDY, "1.2.3.5", "1.2.3.4.2", data[:-3])  # truncated in its Pixel Data

    report = reconcile_spool(spool, audit)

    assert (report.recorded, report.unreadable) == (1, 1)
    assert report.series == ((STUDY, SERIES),)  # no quiet timer for the unreadable series
    quarantined = spool.root / QUARANTINE_FOLDER / f"{STUDY}_1.2.3.5_1.2.3.4.2.dcm"
    assert quarantined.read_bytes() == data[:-3]
    assert [e.sop_instance_uid for e in spool.scan()] == ["1.2.3.4.1"]
    [(kind, detail)] = _rows(tmp_path, "SELECT kind, detail FROM service_events")
    assert kind == "spool_file_quarantined"
    assert str(quarantined) in detail and "(7FE0,0010)" in detail
    assert _rows(tmp_path, "SELECT sop_instance_uid FROM instances") == [("1.2.3.4.1",)]
    assert reconcile_spool(spool, audit).unreadable == 0


def test_one_batch_records_a_whole_association_in_order(tmp_path: Path, audit: AuditLog) -> None:
    tracker = CompletionTracker(CompletionConfig())
    recorder = ReceiveRecorder(audit, tracker)
    spool = SpoolWriter(tmp_path / "spool")
    recorder.record_batch(
        [
            AssociationAccepted(PEER, 0.0),
            _stored(spool, "1.2.3.4.1"),
            _stored(spool, "1.2.3.4.2"),
            _stored(spool, "1.2.3.4.1"),  # duplicate within the batch
            AssociationEnded(PEER, True, 0.0),
        ]
    )
    assert _rows(tmp_path, "SELECT sop_instance_uid, status FROM instances ORDER BY id") == [
        ("1.2.3.4.1", "stored"),
        ("1.2.3.4.2", "stored"),
        ("1.2.3.4.1", "duplicate"),
    ]
    assert _rows(tmp_path, "SELECT instances, aborted FROM associations") == [(3, 1)]
    assert _rows(tmp_path, "SELECT instance_count FROM series") == [(2,)]
    assert len(tracker) == 1


def test_a_failing_batch_is_recorded_event_by_event(
    tmp_path: Path, audit: AuditLog, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(recorder_module, "RETRY_DELAY_S", 0.0)
    recorder = ReceiveRecorder(audit, CompletionTracker(CompletionConfig()))
    spool = SpoolWriter(tmp_path / "spool")
    other = AssociationInfo("k2", "OTHER", "DICOMNODE", "127.0.0.1", 40001)
    recorder.record(AssociationAccepted(other, 0.0))
    with sqlite3.connect(tmp_path / "audit.sqlite3") as db:
        db.execute("DELETE FROM associations")  # closing it now fails (KeyError)
    ended = AssociationEnded(other, False, 0.0)
    recorder.record_batch([_stored(spool, "1.2.3.4.1"), ended, _stored(spool, "1.2.3.4.2")])
    assert _rows(tmp_path, "SELECT sop_instance_uid FROM instances ORDER BY id") == [
        ("1.2.3.4.1",),
        ("1.2.3.4.2",),
    ]


def test_drain_reports_a_backlog_until_its_batch_is_recorded() -> None:
    source: queue.Queue[ReceiveEvent] = queue.Queue()
    recording, release = threading.Event(), threading.Event()
    batches: list[int] = []

    class _SlowRecorder:
        def record_batch(self, events: list[ReceiveEvent]) -> None:
            recording.set()
            release.wait(5.0)
            batches.append(len(events))

    drain = QueueDrain(source, _SlowRecorder())  # type: ignore[arg-type]
    drain.start()
    assert not drain.backlog()
    for _ in range(3):
        source.put(AssociationAccepted(PEER, 0.0))
    assert recording.wait(5.0)
    assert source.empty() and drain.backlog()  # taken off the queue, not yet recorded
    release.set()
    drain.stop()
    assert not drain.backlog()
    assert batches == [3]
