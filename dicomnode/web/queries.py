"""Read-only queries of the audit database for the dashboard, the plots and ``/metrics``.

Each function opens one short read transaction on the engine and returns plain values, so
that the dashboard works the same from any process that can reach the database.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, case, func, select
from sqlalchemy.orm import Session

from dicomnode.audit import tables as m
from dicomnode.audit.convert import association_row
from dicomnode.audit.engine import UnitsOfWork
from dicomnode.audit.rows import AssociationRow, JobState, JobWorkerRow

STAGE_BUCKETS_S = (0.1, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0)
"""Upper bounds (seconds) of the stage-duration histogram buckets."""

FAILED_DELIVERY_STATUSES = ("transient", "permanent")
"""Delivery attempt statuses that count as failures."""


@dataclass(frozen=True)
class ServiceEventRow:
    """One service event (start, stop, spool clean-up, ...)."""

    kind: str
    detail: str
    occurred_at: datetime


@dataclass(frozen=True)
class StageHistogram:
    """Durations (seconds) of one pipeline stage: cumulative bucket counts, count, sum."""

    stage: str
    cumulative: tuple[int, ...]
    """Count of durations at or below each bound of :data:`STAGE_BUCKETS_S`."""
    count: int
    total_s: float


@dataclass(frozen=True)
class MetricsSnapshot:
    """Counters and gauges read from the audit database at one moment."""

    instances_by_status: dict[str, int]
    bytes_received: int
    associations_by_outcome: dict[str, int]
    associations_aborted: int
    """Accepted associations that ended in an abort (either side) instead of a release."""
    connections_refused: dict[str, int]
    """Reason -> connections refused before or outside association rejection."""
    jobs_by_state: dict[str, int]
    stage_durations: tuple[StageHistogram, ...]
    delivery_failures: dict[tuple[str, str], int]
    """(destination, status) -> failed sends."""
    deliveries_by_state: dict[str, int]
    oldest_queued_created_at: datetime | None
    job_workers: tuple[JobWorkerRow, ...] = ()
    """Celery workers seen (``jobs.backend: celery``)."""


class DashboardQueries:
    """Read-only views of the audit database.

    Parameters
    ----------
    engine : Engine
        The audit database's engine.
    """

    def __init__(self, engine: Engine) -> None:
        self._uow = UnitsOfWork(engine)

    def ping(self) -> None:
        """Run a trivial query; raises when the database cannot be reached."""
        with self._uow.read() as session:
            session.execute(select(1))

    def service_events(self, *, limit: int = 20) -> list[ServiceEventRow]:
        """Service events, newest first."""
        with self._uow.read() as session:
            rows = session.scalars(
                select(m.ServiceEvent).order_by(m.ServiceEvent.id.desc()).limit(limit)
            )
            return [ServiceEventRow(r.kind, r.detail, r.occurred_at) for r in rows]

    def last_start_or_stop(self) -> ServiceEventRow | None:
        """The latest ``start`` or ``stop`` event (is the service up, since when)."""
        with self._uow.read() as session:
            row = session.scalar(
                select(m.ServiceEvent)
                .where(m.ServiceEvent.kind.in_(("start", "stop")))
                .order_by(m.ServiceEvent.id.desc())
                .limit(1)
            )
            return None if row is None else ServiceEventRow(row.kind, row.detail, row.occurred_at)

    def jobs_by_state(self) -> dict[str, int]:
        """Number of jobs in each state (every state present, zeros included)."""
        counts = dict.fromkeys((s.value for s in JobState), 0)
        with self._uow.read() as session:
            for state, count in session.execute(
                select(m.Job.state, func.count()).group_by(m.Job.state)
            ):
                counts[state] = count
        return counts

    def queue_depth(self) -> int:
        """Jobs waiting for a worker: ``queued``, or ``failed`` with attempts left."""
        with self._uow.read() as session:
            return int(
                session.scalar(
                    select(func.count()).where(
                        (m.Job.state == JobState.QUEUED.value)
                        | (
                            (m.Job.state == JobState.FAILED.value)
                            & (m.Job.attempts < m.Job.max_attempts)
                        )
                    )
                )
                or 0
            )

    def recent_associations(
        self, *, rejected_only: bool = False, limit: int = 10
    ) -> list[AssociationRow]:
        """Latest associations (or only the rejected ones), newest first."""
        statement = select(m.Association)
        if rejected_only:
            statement = statement.where(m.Association.accepted.is_(False))
        with self._uow.read() as session:
            rows = session.scalars(statement.order_by(m.Association.id.desc()).limit(limit))
            return [association_row(row) for row in rows]

    def job_times(
        self, *, since: datetime
    ) -> list[tuple[datetime, datetime | None, datetime | None]]:
        """(created, started, finished) of the jobs created since ``since``."""
        with self._uow.read() as session:
            return [
                (created, started, finished)
                for created, started, finished in session.execute(
                    select(m.Job.created_at, m.Job.started_at, m.Job.finished_at)
                    .where(m.Job.created_at >= since)
                    .order_by(m.Job.id)
                )
            ]

    def processing_times_s(self, *, limit: int = 1000) -> list[float]:
        """Duration (seconds) of the last attempt of the latest finished jobs."""
        with self._uow.read() as session:
            rows = session.execute(
                select(m.Job.started_at, m.Job.finished_at)
                .where(m.Job.started_at.is_not(None), m.Job.finished_at.is_not(None))
                .order_by(m.Job.id.desc())
                .limit(limit)
            )
            return [
                (finished - started).total_seconds()
                for started, finished in rows
                if started is not None and finished is not None and finished >= started
            ]

    def delivery_failure_times(self, *, since: datetime) -> list[tuple[datetime, str]]:
        """(time, status) of every failed send since ``since``."""
        with self._uow.read() as session:
            return [
                (at, status)
                for at, status in session.execute(
                    select(m.DeliveryAttempt.occurred_at, m.DeliveryAttempt.status)
                    .where(
                        m.DeliveryAttempt.occurred_at >= since,
                        m.DeliveryAttempt.status.in_(FAILED_DELIVERY_STATUSES),
                    )
                    .order_by(m.DeliveryAttempt.id)
                )
            ]

    def metrics(self) -> MetricsSnapshot:
        """Everything ``/metrics`` exposes (read at scrape time)."""
        with self._uow.read() as session:
            instances = {
                status: int(count)
                for status, count in session.execute(
                    select(m.Instance.status, func.count()).group_by(m.Instance.status)
                )
            }
            received = int(
                session.scalar(select(func.coalesce(func.sum(m.Instance.size_bytes), 0))) or 0
            )
            outcomes = {"accepted": 0, "rejected": 0}
            for accepted, count in session.execute(
                select(m.Association.accepted, func.count()).group_by(m.Association.accepted)
            ):
                outcomes["accepted" if accepted else "rejected"] += int(count)
            aborted = int(
                session.scalar(
                    select(func.count()).select_from(m.Association).where(m.Association.aborted)
                )
                or 0
            )
            refused = {
                str(reason): int(count or 0)
                for reason, count in session.execute(
                    select(m.ConnectionRefusal.reason, func.sum(m.ConnectionRefusal.count))
                    .group_by(m.ConnectionRefusal.reason)
                )
            }
            failures = {
                (destination, status): int(count)
                for destination, status, count in session.execute(
                    select(m.Delivery.destination, m.DeliveryAttempt.status, func.count())
                    .join(m.Delivery, m.Delivery.id == m.DeliveryAttempt.delivery_id)
                    .where(m.DeliveryAttempt.status.in_(FAILED_DELIVERY_STATUSES))
                    .group_by(m.Delivery.destination, m.DeliveryAttempt.status)
                )
            }
            deliveries = {
                state: int(count)
                for state, count in session.execute(
                    select(m.Delivery.state, func.count()).group_by(m.Delivery.state)
                )
            }
            oldest = session.scalar(
                select(func.min(m.Job.created_at)).where(m.Job.state == JobState.QUEUED.value)
            )
            histograms = _stage_histograms(session)
        return MetricsSnapshot(
            instances_by_status=instances,
            bytes_received=received,
            associations_by_outcome=outcomes,
            associations_aborted=aborted,
            connections_refused=refused,
            jobs_by_state=self.jobs_by_state(),
            stage_durations=histograms,
            delivery_failures=failures,
            deliveries_by_state=deliveries,
            oldest_queued_created_at=oldest,
            job_workers=tuple(self.job_workers()),
        )

    def job_workers(self) -> list[JobWorkerRow]:
        """Every Celery worker seen, by name, with its heartbeat and jobs done."""
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

    def oldest_waiting_created_at(self) -> datetime | None:
        """When the oldest job waiting for a worker was created (None: none waits)."""
        with self._uow.read() as session:
            return session.scalar(
                select(func.min(m.Job.created_at)).where(m.Job.state == JobState.QUEUED.value)
            )


def _stage_histograms(session: Session) -> tuple[StageHistogram, ...]:
    """Histogram of the durations of job events that have one, per stage (one query)."""
    buckets = [
        func.sum(case((m.JobEvent.duration_s <= bound, 1), else_=0)) for bound in STAGE_BUCKETS_S
    ]
    statement = (
        select(m.JobEvent.stage, func.count(), func.sum(m.JobEvent.duration_s), *buckets)
        .where(m.JobEvent.duration_s.is_not(None))
        .group_by(m.JobEvent.stage)
        .order_by(m.JobEvent.stage)
    )
    return tuple(
        StageHistogram(
            stage=row[0],
            count=int(row[1]),
            total_s=float(row[2] or 0.0),
            cumulative=tuple(int(value or 0) for value in row[3:]),
        )
        for row in session.execute(statement)
    )
