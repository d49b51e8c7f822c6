"""The audit log as each of its callers sees it: one small ``typing.Protocol`` per role.

:class:`~dicomnode.audit.log.AuditLog` (SQLAlchemy, SQLite or PostgreSQL) implements every
port and declares so by naming them as bases, so mypy checks each signature. A caller
depends on the port of its role, never on the whole log; only the composition root
(:mod:`dicomnode.composition`, the CLI) builds an ``AuditLog``.

=====================  ====================================================================
Port                   Caller (role)
=====================  ====================================================================
ServiceEventLog        service start/stop, web server failures (service events)
ReceiptLog             :mod:`dicomnode.intake.recorder` (what the SCP processes received)
ReconcileLog           :mod:`dicomnode.intake.reconcile` (spool vs. database at start-up)
RetentionLog           :mod:`dicomnode.intake.retention` (processed studies leave the spool)
JobSubmission          :class:`dicomnode.service.SeriesJobCreator` (quiet series -> job)
StudyLinkLog           :mod:`dicomnode.jobs.study_link`, :mod:`dicomnode.jobs.study_relink`
                       (NM/PET study <-> planning CT study of the same patient)
JobQueue               :mod:`dicomnode.jobs` runners (claim, run and finish attempts)
ClaimQueue             :mod:`dicomnode.jobs.celery` (dispatch, leased claims, workers)
DeliveryLog            :mod:`dicomnode.outbox` (plan and record deliveries)
JobReader              job lists and details (dashboard pages, ``dicomnode demo``)
JobAdmin               administrator actions on jobs (dashboard buttons)
PlanApprovalLog        a planner's approval of a re-plan and its delivery (dashboard)
DashboardLog           the web dashboard as a whole (job admin, plan approvals, read-only
                       queries)
=====================  ====================================================================

This module imports no SQLAlchemy at run time; the rows are plain frozen dataclasses.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from dicomnode.audit.rows import (
    ClaimResult,
    DeliveryRow,
    DispatchRow,
    JobDetail,
    JobRow,
    JobState,
    JobSummaryRow,
    JobWorkerRow,
    OutputKind,
    PlanApprovalRow,
    PlanOutput,
    StudyJobRow,
)

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from pipeline.select.nm_series import StudySummary


class ServiceEventLog(Protocol):
    """Records what happened to the service itself."""

    def record_service_event(self, kind: str, detail: str = "") -> None:
        """Record a service event (``start``, ``stop``, ``web_failed``...) with a detail
        (no PHI)."""
        ...


class Receipts(Protocol):
    """One write transaction of receive records (see :class:`ReceiptLog`)."""

    def add_association(
        self,
        *,
        calling_ae: str,
        called_ae: str,
        peer_address: str,
        peer_port: int,
        reject_reason: str | None,
    ) -> int:
        """Record an accepted (``reject_reason`` None) or rejected association; returns its
        id."""
        ...

    def close_association(
        self, association_id: int, *, instances: int, bytes_received: int, aborted: bool = False
    ) -> None:
        """Record the end of an association: instances and bytes received, aborted or not."""
        ...

    def record_instance(
        self,
        *,
        association_id: int | None,
        sop_instance_uid: str,
        sop_class_uid: str,
        transfer_syntax_uid: str,
        study_instance_uid: str,
        series_instance_uid: str,
        path: str | None,
        size_bytes: int,
        status: str,
        reason: str | None,
        header: dict[str, str],
    ) -> object:
        """Add one receipt of one instance (``stored`` or ``rejected``; size in bytes)."""
        ...

    def count_refusal(
        self, *, peer_address: str, reason: str, detail: str, at: datetime, window_s: float
    ) -> bool:
        """Count one refused connection within a window of ``window_s`` seconds; whether a
        new row was started."""
        ...


class ReceiptLog(Protocol):
    """Records what the receiving processes report, a burst per transaction."""

    def receipts(self) -> AbstractContextManager[Receipts]:
        """One write transaction, committed when the block ends, rolled back if it raises."""
        ...


class ReconcileLog(ServiceEventLog, Protocol):
    """Compares the spool (the truth) with the instances the database knows, at start-up."""

    def known_instance_paths(self) -> set[str]:
        """Spool paths of every stored instance."""
        ...

    def record_instance(
        self,
        *,
        association_id: int | None,
        sop_instance_uid: str,
        sop_class_uid: str,
        transfer_syntax_uid: str,
        study_instance_uid: str,
        series_instance_uid: str,
        path: str | None,
        size_bytes: int,
        status: str,
        reason: str | None,
        header: dict[str, str],
    ) -> int:
        """Record one receipt of one instance in its own transaction; returns its row id."""
        ...


class RetentionLog(ServiceEventLog, Protocol):
    """Finds processed studies and forgets their spool files once deleted."""

    def processed_studies(self, *, received_before: datetime) -> list[str]:
        """Study Instance UIDs whose last instance arrived before ``received_before`` (UTC),
        that have a job, whose jobs all ended ``succeeded``, ``rejected`` or ``cancelled``
        and none of whose results waits in the outbox; oldest first."""
        ...

    def forget_instance_paths(self, study_instance_uid: str) -> None:
        """Clear the spool paths of the study's instances (its files were deleted)."""
        ...


class StudyLinkLog(Protocol):
    """A patient's studies and their jobs, to link an NM/PET study to its planning CT study
    (when the NM/PET study completes, and again when a planning CT arrives after it)."""

    def study_summary(self, study_instance_uid: str) -> StudySummary | None:
        """PatientID, StudyDate and series modalities of one study (None: unknown)."""
        ...

    def patient_studies(self, patient_id: str) -> list[StudySummary]:
        """Every study of a PatientID with the modalities of its series."""
        ...

    def study_series(self, study_instance_uid: str, modality: str) -> list[str]:
        """SeriesInstanceUIDs of the study's series of one Modality."""
        ...

    def latest_study_job(self, study_instance_uid: str) -> StudyJobRow | None:
        """The study's most recent job and the series of other studies linked into it
        (None: the study has no job)."""
        ...

    def add_job_event(
        self, job_id: int, *, stage: str, message: str, duration_s: float | None = None
    ) -> int:
        """Append an event to the job's history."""
        ...


class JobSubmission(Protocol):
    """Turns completed series into a queued job."""

    def mark_series_complete(self, series_instance_uid: str) -> None:
        """Record that the series' quiet timer expired."""
        ...

    def create_job(
        self,
        *,
        study_instance_uid: str,
        series_instance_uids: list[str],
        calling_ae: str | None,
    ) -> int:
        """Queue a job for these series (idempotent for the same series); returns its id."""
        ...


class JobQueue(Protocol):
    """The job table as a queue: claim a job, run an attempt, record how it ended."""

    def claim_next_job(self, worker: str) -> JobRow | None:
        """Atomically move the oldest runnable job to ``running`` for ``worker`` (attempts
        + 1); None when none waits."""
        ...

    def job_instance_paths(self, job_id: int) -> list[str]:
        """Spool paths of the stored instances of the job's series."""
        ...

    def add_job_event(
        self, job_id: int, *, stage: str, message: str, duration_s: float | None = None
    ) -> int:
        """Append an event (a pipeline stage and its duration in s) to the job's history."""
        ...

    def record_output(
        self,
        job_id: int,
        *,
        path: str,
        sop_instance_uid: str,
        sop_class_uid: str,
        kind: str | OutputKind,
    ) -> int:
        """Record an output file of the job's current attempt; returns its id."""
        ...

    def finish_job(
        self,
        job_id: int,
        *,
        state: str,
        reason: str | None = None,
        result: dict[str, Any] | None = None,
    ) -> JobState:
        """End the running attempt (``succeeded``, ``rejected`` or ``failed``); returns the
        state stored (a failure with attempts left is ``queued`` again)."""
        ...

    def requeue_stale_running_jobs(self, *, worker_prefix: str | None = None) -> list[int]:
        """Move ``running`` jobs of workers named ``worker_prefix...`` back to ``queued``
        (``dead_lettered`` when out of attempts); returns their ids."""
        ...


@runtime_checkable
class ClaimQueue(Protocol):
    """The job table as the Celery backend uses it (:mod:`dicomnode.audit.claim_records`)."""

    def jobs_to_dispatch(self, *, limit: int = 100) -> list[DispatchRow]:
        """Waiting jobs not published to the broker yet, oldest first."""
        ...

    def mark_dispatched(self, job_id: int, *, queue: str, priority: int) -> None:
        """Record that the job was published to ``queue`` with ``priority``."""
        ...

    def rush_job(self, job_id: int, *, by_user: str) -> None:
        """Publish a waiting job again at the highest priority; records the action."""
        ...

    def claim_job(self, job_id: int, worker: str, *, lease_s: float) -> ClaimResult:
        """Claim the job for one attempt by ``worker`` under a lease of ``lease_s`` s."""
        ...

    def renew_lease(self, job_id: int, *, attempt: int, worker: str, lease_s: float) -> bool:
        """Extend the claim; False when ``worker`` no longer holds it."""
        ...

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
        """Record the attempt's events, outputs and outcome while the claim stands."""
        ...

    def expire_lost_claims(self, *, grace_s: float) -> list[int]:
        """End attempts whose claim lapsed ``grace_s`` s ago; returns their job ids."""
        ...

    def job_instance_paths(self, job_id: int) -> list[str]:
        """Spool paths of the stored instances of the job's series."""
        ...

    def worker_heartbeat(self, name: str, *, queues: Sequence[str], concurrency: int) -> None:
        """Record that Celery worker ``name`` is alive."""
        ...

    def worker_started(self, name: str, *, queues: Sequence[str], concurrency: int) -> None:
        """Record a (re)start of Celery worker ``name``."""
        ...

    def job_workers(self) -> list[JobWorkerRow]:
        """Every Celery worker seen."""
        ...


class DeliveryLog(Protocol):
    """The outbox's state: which outputs go where, and how each send ended."""

    def jobs_awaiting_delivery_plan(self, *, limit: int = 100) -> list[int]:
        """Ids of succeeded or rejected jobs whose deliveries were not planned yet."""
        ...

    def job_sender(self, job_id: int) -> tuple[str, str] | None:
        """(calling AE title, peer address) of the association that brought the job's most
        recently received stored instance; None when unknown."""
        ...

    def plan_deliveries(self, job_id: int, *, destinations: Sequence[str]) -> int:
        """Put every output of the job's final attempt in the outbox for each destination
        (idempotent) and mark the job's deliveries planned; returns how many were added."""
        ...

    def pending_deliveries(
        self,
        *,
        destinations: Sequence[str] | None = None,
        destination_prefix: str | None = None,
        due_before: datetime | None = None,
        limit: int = 100,
    ) -> list[DeliveryRow]:
        """Pending deliveries due at or before ``due_before`` (UTC, default now), oldest due
        first, for the given destinations (or destination name prefix)."""
        ...

    def record_delivery(
        self,
        delivery_id: int,
        *,
        status: str,
        dimse_status: int | None,
        detail: str,
        next_attempt_at: datetime | None,
    ) -> DeliveryRow:
        """Record one send and move the outbox entry on (delivered, retried at
        ``next_attempt_at`` or dead-lettered)."""
        ...


class JobReader(Protocol):
    """Reads jobs and their whole audit chain."""

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
        """Jobs matching every given filter, newest first."""
        ...

    def get_job(self, job_id: int) -> JobDetail:
        """A job with its series, events, outputs and deliveries.

        Raises
        ------
        JobNotFoundError
            No job with that id.
        """
        ...


class JobAdmin(JobReader, Protocol):
    """An administrator's actions on jobs, each recorded with the user's name."""

    def record_admin_action(self, *, user: str, action: str, target: str, detail: str = "") -> int:
        """Record an administrator's action (login, logout, ``retry`` of ``job:12``)."""
        ...

    def requeue_job(self, job_id: int, *, by_user: str) -> None:
        """Requeue a ``failed``, ``dead_lettered`` or ``cancelled`` job with a fresh set of
        attempts; records the action."""
        ...

    def cancel_job(self, job_id: int, *, by_user: str) -> None:
        """Cancel a ``queued`` or ``failed`` job; records the action."""
        ...

    def rearm_deliveries(self, job_id: int, *, by_user: str) -> int:
        """Make the job's dead-lettered deliveries pending again, due now, with a fresh
        retry budget; records the action and returns how many."""
        ...


class PlanApprovalLog(Protocol):
    """A planner's approval of a re-plan, and the delivery of its SR and PDF."""

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
        job (also a job event and an administrator action); returns the approval's id."""
        ...

    def plan_approvals(self, job_id: int) -> list[PlanApprovalRow]:
        """The job's plan approvals, oldest first."""
        ...

    def record_plan_outputs(self, approval_id: int, outputs: Sequence[PlanOutput]) -> list[int]:
        """Record an approved re-plan's SR and PDF as outputs of its finished job, to be
        delivered by the outbox; idempotent per SOP Instance UID; returns the output ids."""
        ...


class DashboardLog(JobAdmin, PlanApprovalLog, Protocol):
    """What the web dashboard needs: job administration, plus the audit database's engine
    for its read-only queries and its users table (:mod:`dicomnode.web.queries`,
    :mod:`dicomnode.web.users`)."""

    @property
    def engine(self) -> Engine:
        """The audit database's SQLAlchemy engine."""
        ...
