"""Audit records of jobs: creation, claiming, events, completion, administrator actions, queries."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from dicomnode.audit import tables as m
from dicomnode.audit.convert import (
    admin_action_row,
    delivery_attempt_row,
    delivery_row,
    job_event_row,
    job_row,
    output_row,
    series_row,
    study_row,
)
from dicomnode.audit.errors import JobNotFoundError, JobStateError
from dicomnode.audit.intake import latest_stored
from dicomnode.audit.rows import JobDetail, JobRow, JobState, JobSummaryRow, PlanApprovalRow
from dicomnode.audit.store import Store, job_target

REFRESHABLE = (JobState.QUEUED.value, JobState.FAILED.value)
"""States in which a job has not yet run to an end and takes in newly received instances."""
OUTCOMES = (JobState.SUCCEEDED, JobState.REJECTED, JobState.FAILED)
"""States a worker may end an attempt with."""
DELIVERED_STATES = (JobState.SUCCEEDED, JobState.REJECTED)
"""Final states whose last attempt's outputs are delivered (results, rejection reports)."""


def _series_of(session: Session, job_ids: Iterable[int]) -> dict[int, dict[str, int]]:
    """Series UID -> stored-instance count at job creation, per job id."""
    found: dict[int, dict[str, int]] = defaultdict(dict)
    ids = list(job_ids)
    if ids:
        for link in session.scalars(select(m.JobSeries).where(m.JobSeries.job_id.in_(ids))):
            found[link.job_id][link.series_instance_uid] = link.instance_count
    return found


def load_job(session: Session, job_id: int, *, lock: bool = False) -> m.Job:
    statement = select(m.Job).where(m.Job.id == job_id)
    if lock:
        statement = statement.with_for_update()
    job = session.scalar(statement)
    if job is None:
        raise JobNotFoundError(job_id)
    return job


class JobRecords(Store):
    """Jobs and their history."""

    def _event(self, session: Session, job: m.Job, stage: str, message: str) -> None:
        session.add(
            m.JobEvent(
                job_id=job.id,
                attempt=job.attempts,
                stage=stage,
                message=message,
                duration_s=None,
                occurred_at=self._now(),
            )
        )

    def create_job(
        self,
        *,
        study_instance_uid: str,
        series_instance_uids: list[str],
        calling_ae: str | None,
    ) -> int:
        """Create a queued job for these series; returns its id.

        Idempotent per set of series not yet processed: while a job for the same set is
        ``queued`` or ``failed`` (waiting for its retry), that job is returned and takes in
        any new instances; once a job has run, asking again for the same instances returns
        it too. A series that received new instances after its job was created yields a new
        job.
        """
        wanted = sorted(set(series_instance_uids))
        if not wanted:
            raise ValueError("a job needs at least one series")
        now = self._now()
        with self._uow.write() as session:
            # Lock the study row so concurrent creations for one study are serialised.
            session.scalar(
                select(m.Study.id)
                .where(m.Study.study_instance_uid == study_instance_uid)
                .with_for_update()
            )
            counts = dict.fromkeys(wanted, 0)
            for uid, count in session.execute(
                select(m.Series.series_instance_uid, m.Series.instance_count).where(
                    m.Series.series_instance_uid.in_(wanted)
                )
            ):
                counts[uid] = count
            existing = self._matching_job(session, study_instance_uid, counts)
            if existing is not None:
                return existing
            job = m.Job(
                study_instance_uid=study_instance_uid,
                state=JobState.QUEUED.value,
                attempts=0,
                max_attempts=self.max_job_attempts,
                calling_ae=calling_ae,
                created_at=now,
                updated_at=now,
            )
            session.add(job)
            session.flush()
            session.add_all(
                m.JobSeries(job_id=job.id, series_instance_uid=uid, instance_count=count)
                for uid, count in counts.items()
            )
            self._event(
                session,
                job,
                "created",
                f"{len(counts)} series, {sum(counts.values())} instances",
            )
            return job.id

    def _matching_job(
        self, session: Session, study_instance_uid: str, counts: dict[str, int]
    ) -> int | None:
        jobs = list(
            session.scalars(
                select(m.Job)
                .where(m.Job.study_instance_uid == study_instance_uid)
                .order_by(m.Job.id.desc())
            )
        )
        snapshots = _series_of(session, (job.id for job in jobs))
        for job in jobs:
            snapshot = snapshots[job.id]
            if set(snapshot) != set(counts):
                continue
            if job.state in REFRESHABLE:
                if snapshot != counts:
                    for link in session.scalars(
                        select(m.JobSeries).where(m.JobSeries.job_id == job.id)
                    ):
                        link.instance_count = counts[link.series_instance_uid]
                    job.updated_at = self._now()
                    self._event(session, job, "updated", f"{sum(counts.values())} instances")
                return job.id
            if snapshot == counts:
                return job.id
        return None

    def claim_next_job(self, worker: str) -> JobRow | None:
        """Atomically move the oldest runnable job to ``running`` (attempts + 1).

        Runnable: ``queued``, or ``failed`` with attempts left. PostgreSQL uses
        ``SELECT ... FOR UPDATE SKIP LOCKED`` so workers on several machines never claim
        the same job; SQLite serialises writers (``BEGIN IMMEDIATE``).
        """
        now = self._now()
        with self._uow.write() as session:
            job = session.scalar(
                select(m.Job)
                .where(
                    or_(
                        m.Job.state == JobState.QUEUED.value,
                        and_(
                            m.Job.state == JobState.FAILED.value,
                            m.Job.attempts < m.Job.max_attempts,
                        ),
                    )
                )
                .order_by(m.Job.id)
                .limit(1)
                .with_for_update(skip_locked=True)
            )
            if job is None:
                return None
            job.state = JobState.RUNNING.value
            job.attempts += 1
            job.worker = worker
            job.started_at = now
            job.finished_at = None
            job.updated_at = now
            self._event(session, job, "claimed", f"attempt {job.attempts} by {worker}")
            session.flush()
            return job_row(job, list(_series_of(session, [job.id])[job.id]))

    def add_job_event(
        self, job_id: int, *, stage: str, message: str, duration_s: float | None = None
    ) -> int:
        """Append an event (a pipeline stage, a state change) to the job's history."""
        with self._uow.write() as session:
            job = load_job(session, job_id)
            event = m.JobEvent(
                job_id=job_id,
                attempt=job.attempts,
                stage=stage,
                message=message,
                duration_s=duration_s,
                occurred_at=self._now(),
            )
            session.add(event)
            session.flush()
            return event.id

    def finish_job(
        self,
        job_id: int,
        *,
        state: str,
        reason: str | None = None,
        result: dict[str, Any] | None = None,
    ) -> JobState:
        """End the running attempt with ``succeeded``, ``rejected`` or ``failed``.

        A ``failed`` job whose attempts are used up becomes ``dead_lettered``; one with
        attempts left stays ``failed`` until a worker claims it again. Only the outputs of
        the attempt that ends the job as ``succeeded`` or ``rejected`` (a rejection report) are
        ever delivered. Returns the state stored.

        Raises
        ------
        JobStateError
            The job is not running (e.g. it was requeued after a crash meanwhile).
        """
        wanted = JobState(state)
        if wanted not in OUTCOMES:
            raise ValueError(f"a job attempt cannot end as {wanted.value}")
        now = self._now()
        with self._uow.write() as session:
            job = load_job(session, job_id, lock=True)
            if job.state != JobState.RUNNING.value:
                raise JobStateError(f"job {job_id} is {job.state}, not running")
            return self._end_attempt(session, job, wanted, reason, result, now)

    def _end_attempt(
        self,
        session: Session,
        job: m.Job,
        wanted: JobState,
        reason: str | None,
        result: dict[str, Any] | None,
        now: datetime,
    ) -> JobState:
        """End the running attempt of a locked job as ``wanted`` (see :meth:`finish_job`)."""
        final = wanted
        if wanted is JobState.FAILED and job.attempts >= job.max_attempts:
            final = JobState.DEAD_LETTERED
        job.state = final.value
        job.error = reason if wanted is not JobState.SUCCEEDED else None
        job.result = result
        job.finished_at = now
        job.updated_at = now
        if final in DELIVERED_STATES:
            job.output_version = job.attempts
        message = final.value if reason is None else f"{final.value}: {reason}"
        self._event(session, job, "finished", message)
        return final

    def record_plan_approval(
        self,
        job_id: int,
        *,
        result_version: int,
        by_user: str,
        inputs: dict[str, Any],
        sr_sop_instance_uid: str,
        pdf_sop_instance_uid: str | None,
    ) -> int:
        """Record that ``by_user`` approved result version ``result_version`` of a succeeded
        job (an event of the job and an administrator action too); returns the approval's id.

        Parameters
        ----------
        job_id : int
            The job.
        result_version : int
            N of the approved ``result.vN.json`` (2 or more).
        by_user : str
            The dashboard user who approved.
        inputs : dict
            The planner inputs given (JSON values).
        sr_sop_instance_uid, pdf_sop_instance_uid : str, str or None
            The SR and encapsulated PDF written for the version.

        Raises
        ------
        JobStateError
            The job has not succeeded, or this version is already approved.
        """
        if result_version < 2:
            raise ValueError("version 1 is the job's own result; approvals start at 2")
        now = self._now()
        with self._uow.write() as session:
            job = load_job(session, job_id, lock=True)
            if job.state != JobState.SUCCEEDED.value:
                raise JobStateError(
                    f"job {job_id} is {job.state}; only a succeeded job's result can be re-planned"
                )
            taken = session.scalar(
                select(m.PlanApproval.id).where(
                    m.PlanApproval.job_id == job_id, m.PlanApproval.result_version == result_version
                )
            )
            if taken is not None:
                raise JobStateError(f"version {result_version} of job {job_id} is already approved")
            approval = m.PlanApproval(
                job_id=job_id,
                result_version=result_version,
                approved_by=by_user,
                approved_at=now,
                inputs=inputs,
                sr_sop_instance_uid=sr_sop_instance_uid,
                pdf_sop_instance_uid=pdf_sop_instance_uid,
            )
            session.add(approval)
            session.flush()
            self._event(
                session,
                job,
                "plan_approved",
                f"result version {result_version} approved by {by_user}",
            )
            self._add_admin_action(
                session,
                user=by_user,
                action="approve_plan",
                target=job_target(job_id),
                detail=f"result version {result_version}: SR {sr_sop_instance_uid}, "
                f"PDF {pdf_sop_instance_uid or 'none'}",
            )
            return approval.id

    def plan_approvals(self, job_id: int) -> list[PlanApprovalRow]:
        """The approved re-plans of a job, oldest first."""
        with self._uow.read() as session:
            load_job(session, job_id)
            return [
                PlanApprovalRow(
                    id=row.id,
                    job_id=row.job_id,
                    result_version=row.result_version,
                    approved_by=row.approved_by,
                    approved_at=row.approved_at,
                    inputs=dict(row.inputs),
                    sr_sop_instance_uid=row.sr_sop_instance_uid,
                    pdf_sop_instance_uid=row.pdf_sop_instance_uid,
                )
                for row in session.scalars(
                    select(m.PlanApproval)
                    .where(m.PlanApproval.job_id == job_id)
                    .order_by(m.PlanApproval.result_version)
                )
            ]

    def requeue_job(self, job_id: int, *, by_user: str) -> None:
        """Requeue a ``failed``, ``dead_lettered`` or ``cancelled`` job with a fresh set of
        attempts; records the administrator's action.

        Raises
        ------
        JobStateError
            The job is in another state.
        """
        allowed = (JobState.FAILED.value, JobState.DEAD_LETTERED.value, JobState.CANCELLED.value)
        with self._uow.write() as session:
            job = load_job(session, job_id, lock=True)
            if job.state not in allowed:
                raise JobStateError(f"job {job_id} is {job.state}; only {allowed} can be retried")
            previous = job.state
            job.state = JobState.QUEUED.value
            job.max_attempts = job.attempts + self.max_job_attempts
            job.enqueued_at = None  # the Celery backend publishes it again
            job.updated_at = self._now()
            self._event(session, job, "requeued", f"by {by_user} (was {previous})")
            self._add_admin_action(
                session, user=by_user, action="retry", target=job_target(job_id), detail=previous
            )

    def cancel_job(self, job_id: int, *, by_user: str) -> None:
        """Cancel a ``queued`` or ``failed`` job; records the administrator's action.

        Raises
        ------
        JobStateError
            The job is in another state (a running job cannot be cancelled).
        """
        with self._uow.write() as session:
            job = load_job(session, job_id, lock=True)
            if job.state not in REFRESHABLE:
                raise JobStateError(
                    f"job {job_id} is {job.state}; only {REFRESHABLE} can be cancelled"
                )
            job.state = JobState.CANCELLED.value
            job.updated_at = self._now()
            self._event(session, job, "cancelled", f"by {by_user}")
            self._add_admin_action(
                session, user=by_user, action="cancel", target=job_target(job_id)
            )

    def requeue_stale_running_jobs(self, *, worker_prefix: str | None = None) -> list[int]:
        """After a crash: ``running`` jobs go back to ``queued``, or to ``dead_lettered``
        when their attempts are used up.

        Parameters
        ----------
        worker_prefix : str, optional
            Only jobs claimed by workers whose name starts with this (one node's workers,
            when several nodes share a PostgreSQL job table). All when omitted.

        Returns
        -------
        list of int
            The ids of the jobs moved.
        """
        now = self._now()
        moved: list[int] = []
        with self._uow.write() as session:
            statement = select(m.Job).where(m.Job.state == JobState.RUNNING.value)
            if worker_prefix is not None:
                statement = statement.where(m.Job.worker.startswith(worker_prefix, autoescape=True))
            for job in session.scalars(statement.order_by(m.Job.id).with_for_update()):
                interrupted = f"attempt {job.attempts} interrupted (service stopped)"
                if job.attempts >= job.max_attempts:
                    job.state = JobState.DEAD_LETTERED.value
                    job.error = interrupted
                    job.finished_at = now
                else:
                    job.state = JobState.QUEUED.value
                job.updated_at = now
                self._event(session, job, "recovered", f"{interrupted}; now {job.state}")
                moved.append(job.id)
        return moved

    def list_jobs(
        self,
        *,
        state: str | None = None,
        patient_id: str | None = None,
        accession_number: str | None = None,
        study_instance_uid: str | None = None,
        created_from: datetime | None = None,
        created_to: datetime | None = None,
        limit: int = 50,
    ) -> list[JobSummaryRow]:
        """Jobs matching every given filter, newest first.

        ``created_from`` is inclusive, ``created_to`` exclusive (timezone-aware).
        """
        statement = select(m.Job, m.Study).outerjoin(
            m.Study, m.Study.study_instance_uid == m.Job.study_instance_uid
        )
        if state is not None:
            statement = statement.where(m.Job.state == JobState(state).value)
        if patient_id is not None:
            statement = statement.where(m.Study.patient_id == patient_id)
        if accession_number is not None:
            statement = statement.where(m.Study.accession_number == accession_number)
        if study_instance_uid is not None:
            statement = statement.where(m.Job.study_instance_uid == study_instance_uid)
        if created_from is not None:
            statement = statement.where(m.Job.created_at >= created_from)
        if created_to is not None:
            statement = statement.where(m.Job.created_at < created_to)
        with self._uow.read() as session:
            found = session.execute(statement.order_by(m.Job.id.desc()).limit(limit)).all()
            series = _series_of(session, (job.id for job, _ in found))
            return [
                JobSummaryRow(
                    job=job_row(job, list(series[job.id])),
                    patient_id=study.patient_id if study else None,
                    patient_name=study.patient_name if study else None,
                    accession_number=study.accession_number if study else None,
                    study_date=study.study_date if study else None,
                    study_description=study.study_description if study else None,
                )
                for job, study in found
            ]

    def get_job(self, job_id: int) -> JobDetail:
        """A job's whole audit chain.

        The input instances are the stored instances of the job's series received before
        its last attempt started (what that attempt was given).

        Raises
        ------
        JobNotFoundError
            No job with that id.
        """
        with self._uow.read() as session:
            job = load_job(session, job_id)
            series_uids = sorted(_series_of(session, [job_id])[job_id])
            instances = [
                row
                for row in latest_stored(session, series_instance_uids=series_uids)
                if job.started_at is None or row.received_at <= job.started_at
            ]
            study = session.scalar(
                select(m.Study).where(m.Study.study_instance_uid == job.study_instance_uid)
            )
            series = session.scalars(
                select(m.Series)
                .where(m.Series.series_instance_uid.in_(series_uids))
                .order_by(m.Series.series_instance_uid)
            )
            events = session.scalars(
                select(m.JobEvent).where(m.JobEvent.job_id == job_id).order_by(m.JobEvent.id)
            )
            outputs = list(
                session.scalars(
                    select(m.Output).where(m.Output.job_id == job_id).order_by(m.Output.id)
                )
            )
            by_id = {output.id: output for output in outputs}
            deliveries = list(
                session.scalars(
                    select(m.Delivery)
                    .where(m.Delivery.output_id.in_(list(by_id)))
                    .order_by(m.Delivery.id)
                )
            )
            attempts = session.scalars(
                select(m.DeliveryAttempt)
                .where(m.DeliveryAttempt.delivery_id.in_([d.id for d in deliveries]))
                .order_by(m.DeliveryAttempt.id)
            )
            actions = session.scalars(
                select(m.AdminAction)
                .where(m.AdminAction.target == job_target(job_id))
                .order_by(m.AdminAction.id)
            )
            return JobDetail(
                job=job_row(job, series_uids),
                study=study_row(study) if study is not None else None,
                series=tuple(series_row(s) for s in series),
                instances=tuple(instances),
                events=tuple(job_event_row(e) for e in events),
                outputs=tuple(output_row(o) for o in outputs),
                deliveries=tuple(delivery_row(d, by_id[d.output_id]) for d in deliveries),
                delivery_attempts=tuple(delivery_attempt_row(a) for a in attempts),
                admin_actions=tuple(admin_action_row(a) for a in actions),
            )

    def job_instance_paths(self, job_id: int) -> list[str]:
        """Spool paths of the stored instances of the job's series, in order of receipt."""
        with self._uow.read() as session:
            load_job(session, job_id)
            series_uids = list(_series_of(session, [job_id])[job_id])
            return [
                row.path
                for row in latest_stored(session, series_instance_uids=series_uids)
                if row.path is not None
            ]
