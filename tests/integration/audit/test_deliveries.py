"""Outputs and the outbox state in the audit database, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from audit_testing import SEGMENTATION_STORAGE, STUDY_UID, Receive
from twin_clock import Clock

from dicomnode.audit.errors import DeliveryStateError, JobStateError
from dicomnode.audit.log import AuditLog
from dicomnode.audit.rows import DeliveryState, OutputKind

SR_STORAGE = "1.2.840.10008.5.1.4.1.1.88.34"


def _running_job(audit: AuditLog, receive: Receive) -> int:
    receive("1.2.3.1", 2)
    job_id = audit.create_job(
        study_instance_uid=STUDY_UID, series_instance_uids=["1.2.3.1"], calling_ae=None
    )
    assert audit.claim_next_job("node/1") is not None
    return job_id


def _output(audit: AuditLog, job_id: int, uid: str, kind: str = "SEG") -> int:
    return audit.record_output(
        job_id,
        path=f"/work/{uid}.dcm",
        sop_instance_uid=uid,
        sop_class_uid=SEGMENTATION_STORAGE if kind == "SEG" else SR_STORAGE,
        kind=kind,
    )


def test_a_rejected_jobs_report_is_planned_a_dead_lettered_jobs_outputs_are_not(
    audit: AuditLog, receive: Receive
) -> None:
    job_id = _running_job(audit, receive)
    sr = _output(audit, job_id, "2.25.4", kind="SR")  # the rejection report
    audit.finish_job(job_id, state="rejected", reason="no portal-venous series")
    assert audit.jobs_awaiting_delivery_plan() == [job_id]
    assert audit.plan_deliveries(job_id, destinations=["pacs"]) == 1
    assert [row.output_id for row in audit.pending_deliveries()] == [sr]
    receive("1.2.3.2", 1)
    failing = audit.create_job(
        study_instance_uid=STUDY_UID, series_instance_uids=["1.2.3.2"], calling_ae=None
    )
    for _ in range(2):  # the audit fixture allows 2 attempts
        assert audit.claim_next_job("node/1") is not None
        audit.finish_job(failing, state="failed", reason="crash")
    assert audit.get_job(failing).job.state == "dead_lettered"
    assert audit.jobs_awaiting_delivery_plan() == []
    with pytest.raises(JobStateError):
        audit.plan_deliveries(failing, destinations=["pacs"])


def test_only_the_succeeding_attempts_outputs_are_planned(
    audit: AuditLog, receive: Receive
) -> None:
    job_id = _running_job(audit, receive)
    _output(audit, job_id, "2.25.1")  # attempt 1 wrote this, then failed
    audit.finish_job(job_id, state="failed", reason="crash after writing")
    with pytest.raises(JobStateError):
        _output(audit, job_id, "2.25.9")  # not running
    audit.claim_next_job("node/1")
    seg = _output(audit, job_id, "2.25.2")
    assert _output(audit, job_id, "2.25.2") == seg  # idempotent
    sr = _output(audit, job_id, "2.25.3", kind="SR")
    with pytest.raises(JobStateError):
        audit.plan_deliveries(job_id, destinations=["pacs"])  # still running
    audit.finish_job(job_id, state="succeeded", result={"model": {"name": "demo"}})
    assert audit.jobs_awaiting_delivery_plan() == [job_id]
    assert audit.plan_deliveries(job_id, destinations=["pacs", "archive"]) == 4
    assert audit.plan_deliveries(job_id, destinations=["pacs", "archive"]) == 0
    assert audit.jobs_awaiting_delivery_plan() == []
    due = audit.pending_deliveries()
    assert sorted((row.output_id, row.destination) for row in due) == sorted(
        (output, destination) for output in (seg, sr) for destination in ("pacs", "archive")
    )
    assert {row.sop_instance_uid for row in due} == {"2.25.2", "2.25.3"}
    outputs = audit.get_job(job_id).outputs
    assert [(o.sop_instance_uid, o.version, o.kind) for o in outputs] == [
        ("2.25.1", 1, OutputKind.SEG),
        ("2.25.2", 2, OutputKind.SEG),
        ("2.25.3", 2, OutputKind.SR),
    ]


def test_delivery_states_and_retry_times(audit: AuditLog, receive: Receive, clock: Clock) -> None:
    job_id = _running_job(audit, receive)
    _output(audit, job_id, "2.25.2")
    audit.finish_job(job_id, state="succeeded")
    audit.plan_deliveries(job_id, destinations=["pacs", "archive", "web"])
    rows = {row.destination: row for row in audit.pending_deliveries()}

    done = audit.record_delivery(
        rows["pacs"].id,
        status="warning",
        dimse_status=0xB000,
        detail="coerced",
        next_attempt_at=None,
    )
    assert (done.state, done.attempts, done.next_attempt_at) == (DeliveryState.DELIVERED, 1, None)
    retry_at = clock.now.replace(minute=5)
    waiting = audit.record_delivery(
        rows["archive"].id,
        status="transient",
        dimse_status=0xA700,
        detail="out of resources",
        next_attempt_at=retry_at,
    )
    assert (waiting.state, waiting.next_attempt_at) == (DeliveryState.PENDING, retry_at)
    dead = audit.record_delivery(
        rows["web"].id,
        status="permanent",
        dimse_status=409,
        detail="conflict",
        next_attempt_at=None,
    )
    assert dead.state is DeliveryState.DEAD_LETTERED
    assert audit.pending_deliveries() == []
    assert [row.destination for row in audit.pending_deliveries(due_before=retry_at)] == ["archive"]
    assert audit.pending_deliveries(due_before=retry_at, destinations=["pacs"]) == []
    with pytest.raises(DeliveryStateError):
        audit.record_delivery(
            rows["pacs"].id, status="success", dimse_status=0, detail="", next_attempt_at=None
        )
    with pytest.raises(ValueError):
        audit.record_delivery(
            rows["archive"].id, status="lost", dimse_status=None, detail="", next_attempt_at=None
        )

    assert audit.rearm_deliveries(job_id, by_user="alice") == 1
    assert audit.rearm_deliveries(job_id, by_user="alice") == 0
    rearmed = {row.destination: row for row in audit.pending_deliveries()}["web"]
    assert (rearmed.attempts, rearmed.attempts_since_armed) == (1, 0)
    detail = audit.get_job(job_id)
    assert [(a.status, a.dimse_status) for a in detail.delivery_attempts] == [
        ("warning", 0xB000),
        ("transient", 0xA700),
        ("permanent", 409),
    ]
    assert [a.action for a in detail.admin_actions] == ["rearm_deliveries"]
