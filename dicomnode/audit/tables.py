"""SQLAlchemy 2 ORM models of the audit database.

The schema itself is created and changed only by the Alembic migrations in
``dicomnode/audit/migrations``; a test checks that these models and the migrations agree.
UIDs, AE titles and header values are unbounded strings: the receiver must be able to
record whatever a peer sent, including malformed values, before it rejects them.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored in UTC and returned timezone-aware on every backend.

    PostgreSQL keeps ``timestamptz``; SQLite has no time zones, so the value is stored as
    naive UTC and given back its zone on read.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Convert to UTC; naive values are rejected (they are ambiguous)."""
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the audit database; use UTC-aware times")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Return the stored time as timezone-aware UTC."""
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base with stable constraint names (needed by migrations)."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UTCDateTime, dict[str, Any]: JSON}


class ServiceEvent(Base):
    """Service start, stop and configuration change (detail holds the config hash)."""

    __tablename__ = "service_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String)
    detail: Mapped[str] = mapped_column(Text, default="")
    occurred_at: Mapped[datetime]


class AdminAction(Base):
    """An action an administrator took (retry, cancel, ...)."""

    __tablename__ = "admin_actions"

    id: Mapped[int] = mapped_column(primary_key=True)
    user: Mapped[str] = mapped_column(String)
    action: Mapped[str] = mapped_column(String)
    target: Mapped[str] = mapped_column(String, index=True)
    detail: Mapped[str] = mapped_column(Text, default="")
    occurred_at: Mapped[datetime]


class WebUser(Base):
    """A user of the web dashboard: name, role, salted password hash and session epoch."""

    __tablename__ = "web_users"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String, unique=True)
    role: Mapped[str] = mapped_column(String)
    password_hash: Mapped[str] = mapped_column(Text)
    session_epoch: Mapped[int] = mapped_column(Integer, server_default="0")
    """Moves on at each logout and password change: session cookies of an earlier epoch
    are refused."""
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class Association(Base):
    """One incoming DICOM association, accepted or rejected."""

    __tablename__ = "associations"

    id: Mapped[int] = mapped_column(primary_key=True)
    calling_ae: Mapped[str] = mapped_column(String)
    called_ae: Mapped[str] = mapped_column(String)
    peer_address: Mapped[str] = mapped_column(String)
    peer_port: Mapped[int] = mapped_column(Integer)
    accepted: Mapped[bool] = mapped_column(Boolean)
    reject_reason: Mapped[str | None] = mapped_column(Text)
    instances: Mapped[int] = mapped_column(Integer, default=0)
    bytes_received: Mapped[int] = mapped_column(BigInteger, default=0)
    aborted: Mapped[bool] = mapped_column(Boolean, default=False)
    started_at: Mapped[datetime] = mapped_column(index=True)
    ended_at: Mapped[datetime | None]
    duration_s: Mapped[float | None] = mapped_column(Float)


class ConnectionRefusal(Base):
    """Connections from one address refused for one reason within one recording window
    (a per-address limit, a PDU unknown, too large, malformed or late, a protocol error):
    the node records such refusals rate-limited, one row per address, reason and window."""

    __tablename__ = "connection_refusals"

    id: Mapped[int] = mapped_column(primary_key=True)
    peer_address: Mapped[str] = mapped_column(String, index=True)
    reason: Mapped[str] = mapped_column(String)
    detail: Mapped[str] = mapped_column(Text, default="")
    """The first refusal's detail in the window (sizes and PDU types, no values)."""
    count: Mapped[int] = mapped_column(Integer)
    first_at: Mapped[datetime] = mapped_column(index=True)
    last_at: Mapped[datetime]


class Study(Base):
    """Key header fields of a study (PHI: never logged)."""

    __tablename__ = "studies"

    id: Mapped[int] = mapped_column(primary_key=True)
    study_instance_uid: Mapped[str] = mapped_column(String, unique=True)
    patient_id: Mapped[str | None] = mapped_column(Text, index=True)
    patient_name: Mapped[str | None] = mapped_column(Text)
    accession_number: Mapped[str | None] = mapped_column(Text, index=True)
    study_date: Mapped[str | None] = mapped_column(String)
    study_description: Mapped[str | None] = mapped_column(Text)
    instance_count: Mapped[int] = mapped_column(Integer, default=0)
    first_received_at: Mapped[datetime]
    last_received_at: Mapped[datetime]


class Series(Base):
    """Key header fields and counters of a series."""

    __tablename__ = "series"

    id: Mapped[int] = mapped_column(primary_key=True)
    series_instance_uid: Mapped[str] = mapped_column(String, unique=True)
    study_instance_uid: Mapped[str] = mapped_column(String, index=True)
    modality: Mapped[str | None] = mapped_column(String)
    series_description: Mapped[str | None] = mapped_column(Text)
    series_number: Mapped[str | None] = mapped_column(String)
    instance_count: Mapped[int] = mapped_column(Integer, default=0)
    first_received_at: Mapped[datetime]
    last_received_at: Mapped[datetime]
    completed_at: Mapped[datetime | None]


class Instance(Base):
    """One receipt of one SOP instance (a duplicate receipt is a row of its own)."""

    __tablename__ = "instances"
    __table_args__ = (Index("ix_instances_series_sop", "series_instance_uid", "sop_instance_uid"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    association_id: Mapped[int | None] = mapped_column(
        ForeignKey("associations.id", ondelete="SET NULL"), index=True
    )
    sop_instance_uid: Mapped[str] = mapped_column(String, index=True)
    sop_class_uid: Mapped[str] = mapped_column(String)
    transfer_syntax_uid: Mapped[str] = mapped_column(String)
    study_instance_uid: Mapped[str] = mapped_column(String, index=True)
    series_instance_uid: Mapped[str] = mapped_column(String)
    path: Mapped[str | None] = mapped_column(Text)
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String)
    reason: Mapped[str | None] = mapped_column(Text)
    received_at: Mapped[datetime]


class Job(Base):
    """One processing job for a study's completed series."""

    __tablename__ = "jobs"

    id: Mapped[int] = mapped_column(primary_key=True)
    study_instance_uid: Mapped[str] = mapped_column(String, index=True)
    state: Mapped[str] = mapped_column(String, index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer)
    calling_ae: Mapped[str | None] = mapped_column(String)
    worker: Mapped[str | None] = mapped_column(String)
    error: Mapped[str | None] = mapped_column(Text)
    result: Mapped[dict[str, Any] | None]
    output_version: Mapped[int | None] = mapped_column(Integer)
    deliveries_planned_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(index=True)
    updated_at: Mapped[datetime]
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    lease_expires_at: Mapped[datetime | None]
    """Celery backend: when the running attempt's claim lapses unless its worker renews it."""
    enqueued_at: Mapped[datetime | None]
    """Celery backend: when the job was last published to the broker (None: to publish)."""
    queue: Mapped[str | None] = mapped_column(String)
    """Celery backend: the broker queue the job was last published to."""
    priority: Mapped[int] = mapped_column(Integer, server_default="0")
    """Celery backend: broker priority of the job's last message (0-9, 9 = rush)."""


class JobWorker(Base):
    """A Celery worker (``dicomnode worker``) and its heartbeat."""

    __tablename__ = "job_workers"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String, unique=True)
    queues: Mapped[str] = mapped_column(Text)
    """Comma-separated broker queues it consumes."""
    concurrency: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime]
    last_seen_at: Mapped[datetime] = mapped_column(index=True)
    jobs_done: Mapped[int] = mapped_column(Integer, server_default="0")
    """Job attempts it ended (any outcome) since it was first started."""


class JobSeries(Base):
    """A series of a job, with the number of stored instances it had when the job was made."""

    __tablename__ = "job_series"

    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), primary_key=True)
    series_instance_uid: Mapped[str] = mapped_column(String, primary_key=True, index=True)
    instance_count: Mapped[int] = mapped_column(Integer)


class JobEvent(Base):
    """One step of a job's history (pipeline stage, state change)."""

    __tablename__ = "job_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), index=True)
    attempt: Mapped[int] = mapped_column(Integer)
    stage: Mapped[str] = mapped_column(String)
    message: Mapped[str] = mapped_column(Text)
    duration_s: Mapped[float | None] = mapped_column(Float)
    occurred_at: Mapped[datetime]


class Output(Base):
    """A result object (SEG, SR, PDF) written by one attempt (``version``) of a job."""

    __tablename__ = "outputs"
    __table_args__ = (UniqueConstraint("job_id", "sop_instance_uid"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    path: Mapped[str] = mapped_column(Text)
    sop_instance_uid: Mapped[str] = mapped_column(String)
    sop_class_uid: Mapped[str] = mapped_column(String)
    kind: Mapped[str] = mapped_column(String)
    created_at: Mapped[datetime]


class Delivery(Base):
    """The outbox entry of one output for one destination."""

    __tablename__ = "deliveries"
    __table_args__ = (
        UniqueConstraint("output_id", "destination"),
        Index("ix_deliveries_state_next_attempt_at", "state", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    output_id: Mapped[int] = mapped_column(ForeignKey("outputs.id", ondelete="CASCADE"))
    destination: Mapped[str] = mapped_column(String)
    state: Mapped[str] = mapped_column(String)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    attempts_before_rearm: Mapped[int] = mapped_column(Integer, default=0)
    """``attempts`` when an administrator last re-armed the entry (its retry budget restarts)."""
    next_attempt_at: Mapped[datetime | None]
    last_status: Mapped[str | None] = mapped_column(String)
    last_detail: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class DeliveryAttempt(Base):
    """One send of one output to one destination and how it ended."""

    __tablename__ = "delivery_attempts"

    id: Mapped[int] = mapped_column(primary_key=True)
    delivery_id: Mapped[int] = mapped_column(
        ForeignKey("deliveries.id", ondelete="CASCADE"), index=True
    )
    attempt: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String)
    dimse_status: Mapped[int | None] = mapped_column(Integer)
    detail: Mapped[str] = mapped_column(Text)
    occurred_at: Mapped[datetime]


class PlanApproval(Base):
    """A planner's approval of a re-planned result version of a succeeded job: who, when,
    with which inputs, and the SR and encapsulated PDF written for it (delivered as outputs
    of the job)."""

    __tablename__ = "plan_approvals"
    __table_args__ = (UniqueConstraint("job_id", "result_version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), index=True)
    result_version: Mapped[int] = mapped_column(Integer)
    """N of the ``result.vN.json`` approved (version 1 is the job's own result)."""
    approved_by: Mapped[str] = mapped_column(String)
    """The dashboard user who approved."""
    approved_at: Mapped[datetime]
    inputs: Mapped[dict[str, Any]]
    """The planner inputs given (``planner`` and ``patient``), units as in the result."""
    sr_sop_instance_uid: Mapped[str] = mapped_column(String)
    pdf_sop_instance_uid: Mapped[str | None] = mapped_column(String)
