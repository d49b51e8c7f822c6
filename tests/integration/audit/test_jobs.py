"""The job state machine in the audit database, on SQLite and PostgreSQL."""

from __future__ import annotations

import threading

import pytest
from audit_testing import STUDY_UID, Receive
from twin_clock import Clock

from dicomnode.audit.engine import create_audit_engine
from dicomnode.audit.errors import JobNotFoundError, JobStateError
from dicomnode.audit.log import AuditLog
from dicomnode.audit.rows import JobState


def _job(audit: AuditLog, *series: str, calling_ae: str | None = "PACS") -> int:
    return audit.create_job(
        study_instance_uid=STUDY_UID, series_instance_uids=list(series), calling_ae=calling_ae
    )


def test_create_job_is_idempotent_until_new_instances_arrive(
    audit: AuditLog, receive: Receive
) -> None:
    receive("1.2.3.1", 2)
    receive("1.2.3.2", 2)
    first = _job(audit, "1.2.3.1", "1.2.3.2")
    assert _job(audit, "1.2.3.2", "1.2.3.1") == first  # same set, any order
    receive("1.2.3.1", 1, first=2)  # still queued: the job takes the new instance in
    assert _job(audit, "1.2.3.1", "1.2.3.2") == first
    assert len(audit.job_instance_paths(first)) == 5
    assert audit.get_job(first).events[-1].stage == "updated"
    other_set = _job(audit, "1.2.3.1")
    assert other_set != first

    claimed = audit.claim_next_job("node/1")
    assert claimed is not None and claimed.id == first
    audit.finish_job(first, state="succeeded", result={})
    assert _job(audit, "1.2.3.1", "1.2.3.2") == first  # ran on exactly these instances
    receive("1.2.3.2", 1, first=2)  # new instance after the job ran: a new job
    newer = _job(audit, "1.2.3.1", "1.2.3.2")
    assert newer not in (first, other_set)
    assert audit.get_job(newer).job.state is JobState.QUEUED
    with pytest.raises(ValueError):
        _job(audit)


def test_claim_runs_oldest_first_and_counts_attempts(audit: AuditLog, receive: Receive) -> None:
    assert audit.claim_next_job("node/1") is None
    receive("1.2.3.1", 1)
    receive("1.2.3.2", 1)
    older, newer = _job(audit, "1.2.3.1"), _job(audit, "1.2.3.2")
    claimed = audit.claim_next_job("node/1")
    assert claimed is not None
    assert (claimed.id, claimed.state, claimed.attempts, claimed.worker) == (
        older,
        JobState.RUNNING,
        1,
        "node/1",
    )
    assert claimed.series_instance_uids == ("1.2.3.1",)
    second = audit.claim_next_job("node/2")
    assert second is not None and second.id == newer
    assert audit.claim_next_job("node/3") is None


def test_failed_attempts_retry_then_dead_letter(audit: AuditLog, receive: Receive) -> None:
    receive("1.2.3.1", 1)
    job_id = _job(audit, "1.2.3.1")
    audit.claim_next_job("node/1")
    assert audit.finish_job(job_id, state="failed", reason="boom") is JobState.FAILED
    retried = audit.claim_next_job("node/1")
    assert retried is not None and (retried.id, retried.attempts) == (job_id, 2)
    assert audit.finish_job(job_id, state="failed", reason="boom again") is JobState.DEAD_LETTERED
    assert audit.claim_next_job("node/1") is None
    job = audit.get_job(job_id).job
    assert (job.state, job.error, job.attempts) == (JobState.DEAD_LETTERED, "boom again", 2)
    with pytest.raises(JobStateError):
        audit.finish_job(job_id, state="succeeded")
    with pytest.raises(ValueError):
        audit.finish_job(job_id, state="queued")


def test_rejected_is_final_and_keeps_reason(audit: AuditLog, receive: Receive) -> None:
    receive("1.2.3.1", 1)
    job_id = _job(audit, "1.2.3.1")
    audit.claim_next_job("node/1")
    reason = "no portal-venous series"
    assert audit.finish_job(job_id, state="rejected", reason=reason) is JobState.REJECTED
    assert audit.get_job(job_id).job.error == reason
    assert audit.claim_next_job("node/1") is None
    with pytest.raises(JobStateError):
        audit.requeue_job(job_id, by_user="alice")


def test_requeue_and_cancel_are_admin_actions(audit: AuditLog, receive: Receive) -> None:
    receive("1.2.3.1", 1)
    receive("1.2.3.2", 1)
    dead, queued = _job(audit, "1.2.3.1"), _job(audit, "1.2.3.2")
    for _ in range(2):
        audit.claim_next_job("node/1")
        audit.finish_job(dead, state="failed", reason="crash")
    audit.requeue_job(dead, by_user="alice")
    job = audit.get_job(dead).job
    assert (job.state, job.max_attempts) == (JobState.QUEUED, 4)  # a fresh set of attempts
    audit.cancel_job(queued, by_user="bob")
    assert audit.get_job(queued).job.state is JobState.CANCELLED
    with pytest.raises(JobStateError):
        audit.cancel_job(queued, by_user="bob")
    actions = audit.admin_actions()
    assert [(a.user, a.action, a.target) for a in actions] == [
        ("bob", "cancel", f"job:{queued}"),
        ("alice", "retry", f"job:{dead}"),
    ]
    assert audit.get_job(dead).admin_actions[0].detail == "dead_lettered"
    with pytest.raises(JobNotFoundError):
        audit.requeue_job(12345, by_user="alice")


def test_stale_running_jobs_are_requeued_or_dead_lettered(
    audit: AuditLog, receive: Receive
) -> None:
    for number in range(3):
        receive(f"1.2.3.{number}", 1)
    first, second, other_node = (_job(audit, f"1.2.3.{n}") for n in range(3))
    audit.claim_next_job("node/100")  # first: attempt 1
    audit.claim_next_job("node/100")  # second: attempt 1
    audit.claim_next_job("other/7")
    audit.finish_job(second, state="failed", reason="x")
    audit.claim_next_job("node/100")  # second: attempt 2 (the last)
    moved = audit.requeue_stale_running_jobs(worker_prefix="node/")
    assert sorted(moved) == [first, second]
    assert audit.get_job(first).job.state is JobState.QUEUED
    dead = audit.get_job(second).job
    assert dead.state is JobState.DEAD_LETTERED
    assert dead.error == "attempt 2 interrupted (service stopped)"
    assert audit.get_job(other_node).job.state is JobState.RUNNING
    assert audit.requeue_stale_running_jobs() == [other_node]


def test_concurrent_claims_never_share_a_job(migrated_url: str, receive: Receive) -> None:
    for number in range(12):
        receive(f"1.2.3.{number}", 1)
    setup = AuditLog(create_audit_engine(migrated_url))
    for number in range(12):
        _job(setup, f"1.2.3.{number}")
    claimed: list[int] = []
    lock = threading.Lock()

    def worker(name: str) -> None:
        log = AuditLog(create_audit_engine(migrated_url, pool_size=1))
        try:
            while (job := log.claim_next_job(name)) is not None:
                with lock:
                    claimed.append(job.id)
        finally:
            log.dispose()

    threads = [threading.Thread(target=worker, args=(f"node/{n}",)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    setup.dispose()
    assert sorted(claimed) == list(range(1, 13))


def test_finish_needs_a_running_job(audit: AuditLog, receive: Receive, clock: Clock) -> None:
    receive("1.2.3.1", 1)
    job_id = _job(audit, "1.2.3.1")
    with pytest.raises(JobStateError):
        audit.finish_job(job_id, state="succeeded")
    with pytest.raises(JobNotFoundError):
        audit.add_job_event(999, stage="x", message="y")
    audit.claim_next_job("node/1")
    clock.advance(3)
    audit.add_job_event(job_id, stage="segment", message="3 folds", duration_s=2.5)
    event = audit.get_job(job_id).events[-1]
    assert (event.stage, event.attempt, event.duration_s, event.occurred_at) == (
        "segment",
        1,
        2.5,
        clock.now,
    )
