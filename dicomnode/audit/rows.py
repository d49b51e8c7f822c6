"""Plain, frozen rows that :class:`~dicomnode.audit.log.AuditLog` returns.

Callers never see live ORM objects: every query result is copied into one of these
dataclasses inside the short transaction that read it. Times are timezone-aware UTC.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any


class InstanceStatus(StrEnum):
    """What happened to one received instance."""

    STORED = "stored"
    """Written durably to the spool; the first receipt of this SOP Instance UID."""
    DUPLICATE = "duplicate"
    """A SOP Instance UID already stored in the same series; the file was overwritten."""
    REJECTED = "rejected"
    """Not stored (reason given)."""


class JobState(StrEnum):
    """Life cycle of a job: ``queued -> running -> succeeded | rejected | failed``.

    A ``failed`` job is claimed again while its attempts are below its maximum; after the
    last attempt it becomes ``dead_lettered``. An administrator may requeue ``failed`` and
    ``dead_lettered`` jobs, or cancel a ``queued`` or ``failed`` one.
    """

    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    REJECTED = "rejected"
    FAILED = "failed"
    DEAD_LETTERED = "dead_lettered"
    CANCELLED = "cancelled"

    @property
    def final(self) -> bool:
        """Whether no worker will pick the job up again without an administrator."""
        return self in (
            JobState.SUCCEEDED,
            JobState.REJECTED,
            JobState.DEAD_LETTERED,
            JobState.CANCELLED,
        )


class OutputKind(StrEnum):
    """Kind of a result object a job produced."""

    SEG = "SEG"
    SR = "SR"
    PDF = "PDF"
    RTDOSE = "RTDOSE"
    """RT Dose of an image-based SIRT dosimetry (MAA prediction, Y-90 PET measurement)."""


class DeliveryState(StrEnum):
    """State of one (output, destination) pair in the outbox."""

    PENDING = "pending"
    """Not delivered yet; due at ``next_attempt_at``."""
    DELIVERED = "delivered"
    """Stored by the destination (success or warning)."""
    DEAD_LETTERED = "dead_lettered"
    """Given up (permanent failure or attempts exhausted); re-armed by ``retry``."""


@dataclass(frozen=True)
class AssociationRow:
    """One DICOM association (accepted or rejected)."""

    id: int
    calling_ae: str
    called_ae: str
    peer_address: str
    peer_port: int
    accepted: bool
    reject_reason: str | None
    instances: int
    bytes_received: int
    aborted: bool
    started_at: datetime
    ended_at: datetime | None
    duration_s: float | None


@dataclass(frozen=True)
class InstanceRow:
    """One receipt of one SOP instance."""

    id: int
    association_id: int | None
    sop_instance_uid: str
    sop_class_uid: str
    transfer_syntax_uid: str
    study_instance_uid: str
    series_instance_uid: str
    path: str | None
    size_bytes: int
    status: InstanceStatus
    reason: str | None
    received_at: datetime


@dataclass(frozen=True)
class SeriesRow:
    """Key header fields and counters of one series."""

    series_instance_uid: str
    study_instance_uid: str
    modality: str | None
    series_description: str | None
    series_number: str | None
    instance_count: int
    """Distinct SOP instances stored (duplicates and rejections not counted)."""
    last_received_at: datetime
    completed_at: datetime | None


@dataclass(frozen=True)
class StudyRow:
    """Key header fields and counters of one study (PHI: stays in the database)."""

    study_instance_uid: str
    patient_id: str | None
    patient_name: str | None
    accession_number: str | None
    study_date: str | None
    """StudyDate as received (DICOM DA, ``YYYYMMDD``)."""
    study_description: str | None
    instance_count: int
    last_received_at: datetime


@dataclass(frozen=True)
class JobRow:
    """One job (state lives in the audit database)."""

    id: int
    study_instance_uid: str
    series_instance_uids: tuple[str, ...]
    state: JobState
    attempts: int
    """Attempts started so far (a claim counts as one)."""
    max_attempts: int
    calling_ae: str | None
    worker: str | None
    error: str | None
    result: dict[str, Any] | None
    created_at: datetime
    updated_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


@dataclass(frozen=True)
class StudyJobRow:
    """The most recent job of a study, its series split by the study each belongs to."""

    job_id: int
    state: JobState
    calling_ae: str | None
    own_series_instance_uids: tuple[str, ...]
    """Series of the job's own study (and series the database has no row for), sorted."""
    linked_series_instance_uids: tuple[str, ...]
    """Series of other studies, sorted: the planning CT linked into an NM/PET study's job."""


@dataclass(frozen=True)
class JobSummaryRow:
    """A job with the study fields a job list shows (PHI: do not log)."""

    job: JobRow
    patient_id: str | None
    patient_name: str | None
    accession_number: str | None
    study_date: str | None
    study_description: str | None


@dataclass(frozen=True)
class JobEventRow:
    """One step in a job's history."""

    id: int
    job_id: int
    attempt: int
    stage: str
    message: str
    duration_s: float | None
    occurred_at: datetime


@dataclass(frozen=True)
class OutputRow:
    """One result object (SEG, SR or PDF) written by a job attempt."""

    id: int
    job_id: int
    version: int
    """The job attempt that wrote it; only the outputs of the attempt that ended the job
    (succeeded, or rejected with a rejection report) are delivered."""
    path: str
    sop_instance_uid: str
    sop_class_uid: str
    kind: OutputKind
    created_at: datetime


@dataclass(frozen=True)
class DeliveryRow:
    """One (output, destination) pair in the outbox and its current state."""

    id: int
    output_id: int
    job_id: int
    destination: str
    path: str
    sop_instance_uid: str
    state: DeliveryState
    attempts: int
    """Sends so far (all of them, across re-arms)."""
    attempts_since_armed: int
    """Sends since the entry was created or last re-armed (counts against the retry budget)."""
    next_attempt_at: datetime | None
    last_status: str | None
    last_detail: str | None
    updated_at: datetime


@dataclass(frozen=True)
class DeliveryAttemptRow:
    """One send of one output to one destination."""

    id: int
    delivery_id: int
    attempt: int
    status: str
    """A :class:`dicomnode.delivery.base.DeliveryStatus` value."""
    dimse_status: int | None
    detail: str
    occurred_at: datetime


@dataclass(frozen=True)
class AdminActionRow:
    """One action taken by an administrator."""

    id: int
    user: str
    action: str
    target: str
    detail: str
    occurred_at: datetime


@dataclass(frozen=True)
class JobDetail:
    """A job's whole audit chain.

    Input instances -> job -> events -> model provenance (``job.result``) -> outputs ->
    deliveries and their attempts.
    """

    job: JobRow
    study: StudyRow | None
    series: tuple[SeriesRow, ...]
    instances: tuple[InstanceRow, ...]
    events: tuple[JobEventRow, ...]
    outputs: tuple[OutputRow, ...]
    deliveries: tuple[DeliveryRow, ...]
    delivery_attempts: tuple[DeliveryAttemptRow, ...]
    admin_actions: tuple[AdminActionRow, ...] = field(default=())


@dataclass(frozen=True)
class PlanApprovalRow:
    """A planner's approval of a re-planned result version of a job."""

    id: int
    job_id: int
    result_version: int
    approved_by: str
    approved_at: datetime
    inputs: dict[str, Any]
    sr_sop_instance_uid: str
    pdf_sop_instance_uid: str | None


@dataclass(frozen=True)
class PlanOutput:
    """A DICOM object written for an approved re-plan (its SR or encapsulated PDF)."""

    path: str
    sop_instance_uid: str
    sop_class_uid: str
    kind: OutputKind


class ClaimStatus(StrEnum):
    """What a Celery worker's claim on a job found (:meth:`AuditLog.claim_job`)."""

    CLAIMED = "claimed"
    """The job is this worker's now (a new attempt started)."""
    DONE = "done"
    """The job needs no more work (it ended, was cancelled or ran out of attempts)."""
    BUSY = "busy"
    """Another worker holds a live claim on it (the claim lapses at ``lease_expires_at``)."""


@dataclass(frozen=True)
class ClaimResult:
    """The outcome of a claim: the job as stored after it, and what the claim found."""

    status: ClaimStatus
    job: JobRow
    lease_expires_at: datetime | None
    redelivered: bool = False
    """The job was running for a worker whose claim had lapsed (a lost worker): taken over."""


@dataclass(frozen=True)
class DispatchRow:
    """A job to publish to the broker: its id, instances (for the small-study queue) and
    priority (0-9)."""

    job_id: int
    instances: int
    priority: int


WORKER_ALIVE_S = 30.0
"""A Celery worker whose last heartbeat is older than this (seconds; it beats every 5 s at
most) counts as not alive."""


@dataclass(frozen=True)
class JobWorkerRow:
    """A Celery worker and its heartbeat."""

    name: str
    queues: tuple[str, ...]
    concurrency: int
    started_at: datetime
    last_seen_at: datetime
    jobs_done: int

    def alive(self, now: datetime) -> bool:
        """Whether it beat within :data:`WORKER_ALIVE_S` of ``now`` (timezone-aware UTC)."""
        return (now - self.last_seen_at).total_seconds() <= WORKER_ALIVE_S
