"""Job lists and the whole audit chain of a job, on SQLite and PostgreSQL; PHI stays out
of log lines."""

from __future__ import annotations

import logging

import pytest
from audit_testing import SEGMENTATION_STORAGE, Receive
from twin_clock import Clock

from dicomnode.audit.errors import JobNotFoundError
from dicomnode.audit.log import AuditLog
from dicomnode.audit.rows import DeliveryState, InstanceStatus, JobState

PATIENT = {"PatientID": "PID-SECRET-42", "PatientName": "Doe^Jane", "AccessionNumber": "ACC-9"}


def _study(receive: Receive, study: str, patient: str, accession: str) -> None:
    receive(
        f"{study}.1",
        2,
        study_uid=study,
        header={"PatientID": patient, "AccessionNumber": accession, "StudyDate": "20260301"},
    )


def test_list_jobs_filters(audit: AuditLog, receive: Receive, clock: Clock) -> None:
    _study(receive, "1.2.10", "P-A", "ACC-A")
    _study(receive, "1.2.20", "P-B", "ACC-B")
    first = audit.create_job(
        study_instance_uid="1.2.10", series_instance_uids=["1.2.10.1"], calling_ae=None
    )
    start = clock.now
    clock.advance(3600)
    second = audit.create_job(
        study_instance_uid="1.2.20", series_instance_uids=["1.2.20.1"], calling_ae="PACS"
    )
    audit.claim_next_job("node/1")  # the first job is running

    assert [row.job.id for row in audit.list_jobs()] == [second, first]
    assert [row.job.id for row in audit.list_jobs(limit=1)] == [second]
    assert [row.job.id for row in audit.list_jobs(state="running")] == [first]
    assert [row.job.id for row in audit.list_jobs(patient_id="P-B")] == [second]
    assert [row.job.id for row in audit.list_jobs(accession_number="ACC-A")] == [first]
    assert [row.job.id for row in audit.list_jobs(study_instance_uid="1.2.20")] == [second]
    assert [row.job.id for row in audit.list_jobs(created_from=clock.now)] == [second]
    assert [row.job.id for row in audit.list_jobs(created_to=clock.now)] == [first]
    assert audit.list_jobs(created_from=start, created_to=start) == []
    row = audit.list_jobs(patient_id="P-A")[0]
    assert (row.accession_number, row.study_date, row.job.series_instance_uids) == (
        "ACC-A",
        "20260301",
        ("1.2.10.1",),
    )
    with pytest.raises(ValueError):
        audit.list_jobs(state="sleeping")


def test_get_job_returns_the_whole_chain(audit: AuditLog, receive: Receive, clock: Clock) -> None:
    association = audit.open_association(
        calling_ae="PACS", called_ae="DICOMNODE", peer_address="127.0.0.1", peer_port=104
    )
    receive("1.2.3.1", 3, association_id=association, header=PATIENT)
    job_id = audit.create_job(
        study_instance_uid="1.2.826.0.1.1", series_instance_uids=["1.2.3.1"], calling_ae="PACS"
    )
    clock.advance(1)
    audit.claim_next_job("node/1")
    clock.advance(1)
    receive("1.2.3.1", 1, first=3, header=PATIENT)  # arrived after the attempt started
    audit.add_job_event(job_id, stage="segment", message="ok", duration_s=1.5)
    output = audit.record_output(
        job_id,
        path="/work/seg.dcm",
        sop_instance_uid="2.25.7",
        sop_class_uid=SEGMENTATION_STORAGE,
        kind="SEG",
    )
    provenance = {"model": {"name": "demo", "version": "1", "weights_sha256": "ab" * 32}}
    audit.finish_job(job_id, state="succeeded", result=provenance)
    audit.plan_deliveries(job_id, destinations=["pacs"])
    (due,) = audit.pending_deliveries()
    audit.record_delivery(
        due.id, status="success", dimse_status=0, detail="stored", next_attempt_at=None
    )

    detail = audit.get_job(job_id)
    assert detail.job.state is JobState.SUCCEEDED
    assert detail.job.result == provenance
    assert detail.study is not None and detail.study.patient_name == "Doe^Jane"
    assert [i.sop_instance_uid for i in detail.instances] == [f"1.2.3.1.{n}" for n in range(3)]
    assert {i.status for i in detail.instances} == {InstanceStatus.STORED}
    assert [e.stage for e in detail.events] == ["created", "claimed", "segment", "finished"]
    assert [o.id for o in detail.outputs] == [output]
    assert [(d.destination, d.state) for d in detail.deliveries] == [
        ("pacs", DeliveryState.DELIVERED)
    ]
    assert [(a.status, a.dimse_status) for a in detail.delivery_attempts] == [("success", 0)]
    with pytest.raises(JobNotFoundError):
        audit.get_job(job_id + 1)


def test_no_phi_in_log_lines(migrated_url: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    # A site logging SQL (set before the engine exists): SQLAlchemy logs every statement.
    # (Its DEBUG level also logs result rows, PHI included: never enable that in service.)
    caplog.set_level(logging.INFO, logger="sqlalchemy.engine")
    audit = AuditLog.from_url(migrated_url)
    for number in range(2):
        audit.record_instance(
            association_id=None,
            sop_instance_uid=f"1.2.3.1.{number}",
            sop_class_uid="1.2.840.10008.5.1.4.1.1.2",
            transfer_syntax_uid="1.2.840.10008.1.2.1",
            study_instance_uid="1.2.826.0.1.1",
            series_instance_uid="1.2.3.1",
            path=f"/spool/{number}.dcm",
            size_bytes=1,
            status="stored",
            reason=None,
            header=PATIENT,
        )
    job_id = audit.create_job(
        study_instance_uid="1.2.826.0.1.1", series_instance_uids=["1.2.3.1"], calling_ae=None
    )
    audit.claim_next_job("node/1")
    audit.finish_job(job_id, state="rejected", reason="no portal-venous series")
    audit.list_jobs(patient_id="PID-SECRET-42")
    audit.get_job(job_id)
    audit.dispose()
    assert any(record.name.startswith("sqlalchemy.engine") for record in caplog.records)
    text = caplog.text + "".join(str(record.args) for record in caplog.records)
    for value in PATIENT.values():
        assert value not in text
