"""Audit records of the Celery backend: dispatch, claims with a lease, fenced finishes, workers.

The job table in PostgreSQL is the source of truth; broker messages only say "look at job N".
A worker *claims* the job (``SELECT ... FOR UPDATE SKIP LOCKED`` on its row) before each
attempt: the attempt counter goes up, the worker's name and a lease expiry are recorded, and
the worker renews the lease while it runs. A message delivered again (the broker's
redelivery after a lost worker, a rush, a duplicate) finds the job ended (nothing to do),
running under a live lease (someone else works on it), or running under a lapsed lease (its
worker was lost: that attempt counts as failed and this worker takes over). A worker records
its outcome only while its claim still stands (the attempt number and worker name match:
a fencing token), in one transaction with its events and outputs, so a lost worker that comes
back late never records a second result.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.orm import Session

from dicomnode.audit import tables as m
from dicomnode.audit.convert import job_row
from dicomnode.audit.delivery_records import put_output
from dicomnode.audit.errors import JobStateError
from dicomnode.audit.job_records import OUTCOMES, JobRecords, _series_of, load_job
from dicomnode.audit.rows import (
    ClaimResult,
    ClaimStatus,
    DispatchRow,
    JobState,
    JobWorkerRow,
    OutputKind,
)
from dicomnode.audit.store import job_target

RUSH_PRIORITY = 9
"""Broker priority of a rushed job (the highest; queues are declared with 10 levels)."""


def worker_node(worker: str) -> str:
    """The Celery worker's name in a job's ``worker`` (``<name>/<pid>`` -> ``<name>``)."""
    return worker.rpartition("/")[0] or worker


class ClaimRecords(JobRecords):
    """Dispatch, claims, leases and fenced finishes of jobs run by Celery workers."""

    def jobs_to_dispatch(self, *, limit: int = 100) -> list[DispatchRow]:
        """Jobs waiting to be published to the broker: ``queued`` (or ``failed`` with attempts
        left) and not published since; oldest first, with their instance counts."""
        runnable = or_(
            m.Job.state == JobState.QUEUED.value,
            and_(m.Job.state == JobState.FAILED.value, m.Job.attempts < m.Job.max_attempts),
        )
        instances = func.coalesce(func.sum(m.JobSeries.instance_count), 0)
        with self._uow.read() as session:
            found = session.execute(
                select(m.Job.id, m.Job.priority, instances)
                .outerjoin(m.JobSeries, m.JobSeries.job_id == m.Job.id)
                .where(runnable, m.Job.enqueued_at.is_(None))
                .group_by(m.Job.id, m.Job.priority)
                .order_by(m.Job.id)
                .limit(limit)
            ).all()
            return [DispatchRow(job_id, int(count), priority) for job_id, priority, count in found]

    def mark_dispatched(self, job_id: int, *, queue: str, priority: int) -> None:
        """Record that the job was published to ``queue`` with ``priority`` (unless it was
        rushed meanwhile: it then stays unpublished, to be published at its new priority)."""
        with self._uow.write() as session:
            job = load_job(session, job_id, lock=True)
            if job.priority > priority:
                return
            job.enqueued_at = self._now()
            job.queue = queue
            job.priority = priority
            self._event(session, job, "enqueued", f"queue {queue}, priority {priority}")

    def rush_job(self, job_id: int, *, by_user: str) -> None:
        """Publish a waiting job again at the highest priority (a planner's rush request);
        records the action.

        Raises
        ------
        JobStateError
            The job is not waiting (it runs or has ended).
        """
        with self._uow.write() as session:
            job = load_job(session, job_id, lock=True)
            if job.state not in (JobState.QUEUED.value, JobState.FAILED.value):
                raise JobStateError(f"job {job_id} is {job.state}; only a waiting job is rushed")
            job.priority = RUSH_PRIORITY
            job.enqueued_at = None
            job.updated_at = self._now()
            self._event(session, job, "rushed", f"by {by_user}")
            self._add_admin_action(session, user=by_user, action="rush", target=job_target(job_id))

    def claim_job(self, job_id: int, worker: str, *, lease_s: float) -> ClaimResult:
        """Claim job ``job_id`` for one attempt by ``worker`` (``<name>/<pid>``).

        ``queued`` (or ``failed`` with attempts left): claimed. ``running`` under a live lease,
        or locked by a concurrent claim: busy. ``running`` under a lapsed lease: the lost
        attempt is recorded, then claimed (``dead_lettered`` instead when it was the last
        attempt). Any other state: done, nothing to run.
        """
        now = self._now()
        with self._uow.write() as session:
            job = session.scalar(
                select(m.Job).where(m.Job.id == job_id).with_for_update(skip_locked=True)
            )
            if job is None:
                job = load_job(session, job_id)  # raises JobNotFoundError when it is not there
                return self._claim_result(session, job, ClaimStatus.BUSY)
            redelivered = False
            if job.state == JobState.RUNNING.value:
                if job.lease_expires_at is not None and job.lease_expires_at > now:
                    return self._claim_result(session, job, ClaimStatus.BUSY)
                redelivered = True
                if self._lose_attempt(session, job, now) is JobState.DEAD_LETTERED:
                    return self._claim_result(session, job, ClaimStatus.DONE)
            runnable = job.state == JobState.QUEUED.value or (
                job.state == JobState.FAILED.value and job.attempts < job.max_attempts
            )
            if not runnable:
                return self._claim_result(session, job, ClaimStatus.DONE)
            job.state = JobState.RUNNING.value
            job.attempts += 1
            job.worker = worker
            job.started_at = now
            job.finished_at = None
            job.updated_at = now
            job.lease_expires_at = now + timedelta(seconds=lease_s)
            how = " (taken over from a lost worker)" if redelivered else ""
            self._event(session, job, "claimed", f"attempt {job.attempts} by {worker}{how}")
            return self._claim_result(session, job, ClaimStatus.CLAIMED, redelivered=redelivered)

    def _claim_result(
        self, session: Session, job: m.Job, status: ClaimStatus, *, redelivered: bool = False
    ) -> ClaimResult:
        session.flush()
        return ClaimResult(
            status=status,
            job=job_row(job, list(_series_of(session, [job.id])[job.id])),
            lease_expires_at=job.lease_expires_at,
            redelivered=redelivered,
        )

    def _lose_attempt(self, session: Session, job: m.Job, now: datetime) -> JobState:
        """The running attempt of a locked job whose claim lapsed ends as failed (its worker
        was lost); returns the state stored (``dead_lettered`` after the last attempt)."""
        reason = (
            f"attempt {job.attempts} lost: worker {job.worker} stopped renewing its claim "
            "(killed, machine lost or cut off)"
        )
        job.lease_expires_at = None
        job.enqueued_at = None
        return self._end_attempt(session, job, JobState.FAILED, reason, job.result, now)

    def renew_lease(self, job_id: int, *, attempt: int, worker: str, lease_s: float) -> bool:
        """Extend the claim of ``worker`` on attempt ``attempt``; False when it no longer
        holds it (the job was taken over or ended)."""
        now = self._now()
        with self._uow.write() as session:
            renewed = session.execute(
                update(m.Job)
                .where(
                    m.Job.id == job_id,
                    m.Job.state == JobState.RUNNING.value,
                    m.Job.attempts == attempt,
                    m.Job.worker == worker,
                )
                .values(lease_expires_at=now + timedelta(seconds=lease_s))
            )
            return bool(renewed.rowcount)  # type: ignore[attr-defined]

    def finish_claimed_job(
        self,
        job_id: int,
        *,
        attempt: int,
        worker: str,
        state: str,
        reason: str | None,
        result: dict[str, Any] | None,
        events: Sequence[tuple[str, str, float | None]],
        outputs: Sequence[tuple[str, str, str, OutputKind]],
    ) -> JobState:
        """Record one attempt's events, outputs (path, SOP Instance UID, SOP Class UID, kind)
        and outcome in one transaction, while ``worker`` still holds its claim on attempt
        ``attempt``; a failure with attempts left is published again. Counts the job for the
        worker. Returns the state stored.

        Raises
        ------
        JobStateError
            The claim no longer stands (the job was taken over or ended meanwhile): nothing
            is recorded.
        """
        wanted = JobState(state)
        if wanted not in OUTCOMES:
            raise ValueError(f"a job attempt cannot end as {wanted.value}")
        now = self._now()
        with self._uow.write() as session:
            job = load_job(session, job_id, lock=True)
            if (job.state, job.attempts, job.worker) != (JobState.RUNNING.value, attempt, worker):
                raise JobStateError(
                    f"job {job_id} attempt {attempt} of {worker} no longer holds its claim "
                    f"(job is {job.state}, attempt {job.attempts} of {job.worker})"
                )
            for stage, message, duration_s in events:
                session.add(
                    m.JobEvent(
                        job_id=job_id,
                        attempt=attempt,
                        stage=stage,
                        message=message,
                        duration_s=duration_s,
                        occurred_at=now,
                    )
                )
            for path, sop_instance_uid, sop_class_uid, kind in outputs:
                put_output(
                    session,
                    job,
                    path=path,
                    sop_instance_uid=sop_instance_uid,
                    sop_class_uid=sop_class_uid,
                    kind=kind,
                    now=now,
                )
            job.lease_expires_at = None
            job.enqueued_at = None
            final = self._end_attempt(session, job, wanted, reason, result, now)
            session.execute(
                update(m.JobWorker)
                .where(m.JobWorker.name == worker_node(worker))
                .values(jobs_done=m.JobWorker.jobs_done + 1, last_seen_at=now)
            )
            return final

    def expire_lost_claims(self, *, grace_s: float) -> list[int]:
        """End the attempts whose claim lapsed more than ``grace_s`` seconds ago as failed
        (their workers were lost and no redelivered message took them over), so they are
        published again (``dead_lettered`` after the last attempt); returns the job ids."""
        now = self._now()
        moved: list[int] = []
        with self._uow.write() as session:
            for job in session.scalars(
                select(m.Job)
                .where(
                    m.Job.state == JobState.RUNNING.value,
                    m.Job.lease_expires_at.is_not(None),
                    m.Job.lease_expires_at < now - timedelta(seconds=grace_s),
                )
                .order_by(m.Job.id)
                .with_for_update(skip_locked=True)
            ):
                self._lose_attempt(session, job, now)
                moved.append(job.id)
        return moved

    def worker_heartbeat(self, name: str, *, queues: Sequence[str], concurrency: int) -> None:
        """Record that Celery worker ``name`` is alive (registers it on its first beat)."""
        now = self._now()
        with self._uow.write() as session:
            row = session.scalar(
                select(m.JobWorker).where(m.JobWorker.name == name).with_for_update()
            )
            if row is None:
                row = m.JobWorker(name=name, started_at=now, jobs_done=0)
                session.add(row)
            row.queues = ",".join(queues)
            row.concurrency = concurrency
            row.last_seen_at = now

    def worker_started(self, name: str, *, queues: Sequence[str], concurrency: int) -> None:
        """Record a (re)start of Celery worker ``name``."""
        self.worker_heartbeat(name, queues=queues, concurrency=concurrency)
        with self._uow.write() as session:
            session.execute(
                update(m.JobWorker).where(m.JobWorker.name == name).values(started_at=self._now())
            )

    def job_workers(self) -> list[JobWorkerRow]:
        """Every Celery worker seen, by name."""
        with self._uow.read() as session:
            return [
                JobWorkerRow(
                    name=row.name,
                    queues=tuple(q for q in row.queues.split(",") if q),
                    concurrency=row.concurrency,
                    started_at=row.started_at,
                    last_seen_at=row.last_seen_at,
                    jobs_done=row.jobs_done,
                )
                for row in session.scalars(select(m.JobWorker).order_by(m.JobWorker.name))
            ]
