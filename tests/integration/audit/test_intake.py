"""Associations, instances, series and studies on SQLite and PostgreSQL."""

from __future__ import annotations

import dataclasses

import pytest
from audit_testing import CT_IMAGE_STORAGE, EXPLICIT_VR_LITTLE_ENDIAN, Receive
from twin_clock import Clock

from dicomnode.audit.log import AuditLog
from dicomnode.audit.receipts import ReceiptBatch
from dicomnode.audit.rows import InstanceStatus


def test_association_open_close_and_reject(audit: AuditLog, clock: Clock) -> None:
    opened = audit.open_association(
        calling_ae="PACS", called_ae="DICOMNODE", peer_address="10.1.2.3", peer_port=4006
    )
    clock.advance(12.5)
    audit.close_association(opened, instances=40, bytes_received=20_000_000, aborted=True)
    rejected = audit.reject_association(
        calling_ae="EVIL",
        called_ae="DICOMNODE",
        peer_address="10.9.9.9",
        peer_port=1,
        reason="calling AE title not allowed",
    )
    assert rejected != opened
    with pytest.raises(KeyError):
        audit.close_association(99_999, instances=0, bytes_received=0)


def test_record_instance_counts_detects_duplicates_and_updates_header(
    audit: AuditLog, receive: Receive, clock: Clock
) -> None:
    receive("1.2.3.1", 3, header={"PatientID": "PID-7", "Modality": "CT", "StudyDate": ""})
    clock.advance(5)
    again = audit.record_instance(
        association_id=None,
        sop_instance_uid="1.2.3.1.0",
        sop_class_uid=CT_IMAGE_STORAGE,
        transfer_syntax_uid=EXPLICIT_VR_LITTLE_ENDIAN,
        study_instance_uid="1.2.826.0.1.1",
        series_instance_uid="1.2.3.1",
        path="/spool/1.2.3.1/0-again.dcm",
        size_bytes=1000,
        status="stored",
        reason=None,
        header={"AccessionNumber": "ACC-1", "SeriesDescription": "PV 1.0"},
    )
    rows = audit.series_instances("1.2.3.1")
    assert len(rows) == 3
    duplicate = next(row for row in rows if row.sop_instance_uid == "1.2.3.1.0")
    assert duplicate.id == again
    assert duplicate.status is InstanceStatus.DUPLICATE
    assert duplicate.path == "/spool/1.2.3.1/0-again.dcm"
    assert duplicate.received_at == clock.now
    detail_series = audit.list_jobs()  # no job yet
    assert detail_series == []
    job_id = audit.create_job(
        study_instance_uid="1.2.826.0.1.1", series_instance_uids=["1.2.3.1"], calling_ae=None
    )
    detail = audit.get_job(job_id)
    assert detail.study is not None
    assert (detail.study.patient_id, detail.study.accession_number) == ("PID-7", "ACC-1")
    assert detail.study.study_date is None  # empty header values are not stored
    assert detail.study.instance_count == 3
    (series,) = detail.series
    assert (series.modality, series.series_description, series.instance_count) == (
        "CT",
        "PV 1.0",
        3,
    )


def test_rejected_instances_touch_no_series(audit: AuditLog) -> None:
    row_id = audit.record_instance(
        association_id=None,
        sop_instance_uid="1.2.9",
        sop_class_uid="1.2.840.10008.5.1.4.1.1.7",
        transfer_syntax_uid=EXPLICIT_VR_LITTLE_ENDIAN,
        study_instance_uid="1.2.826.0.1.1",
        series_instance_uid="1.2.9.1",
        path=None,
        size_bytes=10,
        status="rejected",
        reason="SOP class not accepted",
        header={"PatientID": "PID-1"},
    )
    assert row_id > 0
    assert audit.series_instances("1.2.9.1") == []
    assert audit.known_instance_paths() == set()
    audit.mark_series_complete("1.2.9.1")  # no row: nothing to mark, no error
    with pytest.raises(ValueError):
        audit.record_instance(
            association_id=None,
            sop_instance_uid="1",
            sop_class_uid="1",
            transfer_syntax_uid="1",
            study_instance_uid="1",
            series_instance_uid="1",
            path=None,
            size_bytes=0,
            status="lost",
            reason=None,
            header={},
        )


def test_instances_link_to_their_association(audit: AuditLog, receive: Receive) -> None:
    association = audit.open_association(
        calling_ae="PACS", called_ae="DICOMNODE", peer_address="127.0.0.1", peer_port=104
    )
    receive("1.2.3.4", 2, association_id=association)
    assert {row.association_id for row in audit.series_instances("1.2.3.4")} == {association}


def test_study_instances_known_paths_and_completion(
    audit: AuditLog, receive: Receive, clock: Clock
) -> None:
    receive("1.2.3.1", 2)
    receive("1.2.3.2", 3)
    receive("1.2.3.3", 1, study_uid="1.2.826.0.1.2")
    assert len(audit.study_instances("1.2.826.0.1.1")) == 5
    assert len(audit.known_instance_paths()) == 6
    audit.mark_series_complete("1.2.3.1")
    job = audit.create_job(
        study_instance_uid="1.2.826.0.1.1", series_instance_uids=["1.2.3.1"], calling_ae=None
    )
    assert audit.get_job(job).series[0].completed_at == clock.now
    receive("1.2.3.1", 1, first=2)  # the series receives again: no longer complete
    assert audit.get_job(job).series[0].completed_at is None


def test_rows_are_frozen(audit: AuditLog, receive: Receive) -> None:
    receive("1.2.3.1", 1)
    (row,) = audit.series_instances("1.2.3.1")
    with pytest.raises(dataclasses.FrozenInstanceError):
        row.path = "/elsewhere"  # type: ignore[misc]


def _add(batch: ReceiptBatch, series_uid: str, sop_uid: str, **changes: object) -> object:
    values: dict[str, object] = {
        "association_id": None,
        "sop_instance_uid": sop_uid,
        "sop_class_uid": CT_IMAGE_STORAGE,
        "transfer_syntax_uid": EXPLICIT_VR_LITTLE_ENDIAN,
        "study_instance_uid": "1.2.826.0.1.1",
        "series_instance_uid": series_uid,
        "path": f"/spool/{series_uid}/{sop_uid}.dcm",
        "size_bytes": 1000,
        "status": "stored",
        "reason": None,
        "header": {"PatientID": "PID-7", "Modality": "CT"},
    }
    values.update(changes)
    return batch.record_instance(**values)  # type: ignore[arg-type]


def test_one_batch_records_associations_duplicates_counts_and_headers(audit: AuditLog) -> None:
    with audit.receipts() as batch:
        association = batch.add_association(
            calling_ae="PACS",
            called_ae="DICOMNODE",
            peer_address="10.1.2.3",
            peer_port=4006,
            reject_reason=None,
        )
        _add(batch, "1.2.3.1", "1.2.3.1.0", association_id=association)
        _add(batch, "1.2.3.1", "1.2.3.1.1", header={"SeriesDescription": "PV", "StudyDate": ""})
        _add(batch, "1.2.3.1", "1.2.3.1.0")  # the same instance again, in the same batch
        _add(batch, "1.2.3.2", "1.2.3.2.0", header={"AccessionNumber": "ACC-1"})
        _add(batch, "1.2.3.3", "1.2.3.3.0", status="rejected", reason="0xC210: bad")
        batch.close_association(association, instances=4, bytes_received=4000)
    with audit.receipts() as batch:
        _add(batch, "1.2.3.1", "1.2.3.1.1")  # and in a later batch

    rows = audit.series_instances("1.2.3.1")
    assert [(row.sop_instance_uid, row.status) for row in rows] == [
        ("1.2.3.1.0", InstanceStatus.DUPLICATE),
        ("1.2.3.1.1", InstanceStatus.DUPLICATE),
    ]
    assert audit.series_instances("1.2.3.3") == []
    job_id = audit.create_job(
        study_instance_uid="1.2.826.0.1.1",
        series_instance_uids=["1.2.3.1", "1.2.3.2"],
        calling_ae=None,
    )
    detail = audit.get_job(job_id)
    assert detail.study is not None
    assert (detail.study.instance_count, detail.study.patient_id) == (3, "PID-7")
    assert (detail.study.accession_number, detail.study.study_date) == ("ACC-1", None)
    counts = {
        series.series_instance_uid: (series.instance_count, series.series_description)
        for series in detail.series
    }
    assert counts == {"1.2.3.1": (2, "PV"), "1.2.3.2": (1, None)}


def test_a_failing_batch_records_nothing(audit: AuditLog) -> None:
    with pytest.raises(KeyError), audit.receipts() as batch:
        _add(batch, "1.2.3.1", "1.2.3.1.0")
        batch.close_association(99_999, instances=1, bytes_received=1000)
    assert audit.series_instances("1.2.3.1") == []
    assert audit.known_instance_paths() == set()
