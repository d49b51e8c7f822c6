"""The audit log: every association, instance, job, output and delivery, in SQLite or PostgreSQL.

Each method is one short transaction (one session per unit of work) and returns ids or frozen
rows from :mod:`dicomnode.audit.rows`, never live ORM objects. PHI (patient name, IDs) is
stored here and never written to log lines. The methods live in four parts by subject:
:class:`~dicomnode.audit.intake.IntakeRecords` (service, associations, instances),
:class:`~dicomnode.audit.job_records.JobRecords` (jobs),
:class:`~dicomnode.audit.claim_records.ClaimRecords` (jobs run by Celery workers),
:class:`~dicomnode.audit.delivery_records.DeliveryRecords` (outputs, outbox) and
:class:`~dicomnode.audit.retention_records.RetentionRecords` (spool retention).

Callers depend on the narrow ports of :mod:`dicomnode.audit.ports`, which ``AuditLog`` names
as bases so that mypy checks it implements each of them; only the composition root builds it.
"""

from __future__ import annotations

from dicomnode.audit.claim_records import ClaimRecords
from dicomnode.audit.delivery_records import DeliveryRecords
from dicomnode.audit.engine import create_audit_engine
from dicomnode.audit.errors import DeliveryStateError, JobNotFoundError, JobStateError
from dicomnode.audit.intake import IntakeRecords
from dicomnode.audit.job_records import JobRecords
from dicomnode.audit.ports import (
    ClaimQueue,
    DashboardLog,
    DeliveryLog,
    JobQueue,
    JobSubmission,
    ReceiptLog,
    ReconcileLog,
    RetentionLog,
    StudyLinkLog,
)
from dicomnode.audit.retention_records import RetentionRecords
from dicomnode.audit.study_links import StudyLinkRecords

__all__ = ["AuditLog", "DeliveryStateError", "JobNotFoundError", "JobStateError"]


class AuditLog(
    IntakeRecords,
    ClaimRecords,
    JobRecords,
    DeliveryRecords,
    RetentionRecords,
    StudyLinkRecords,
    ReceiptLog,
    ReconcileLog,
    RetentionLog,
    StudyLinkLog,
    JobSubmission,
    JobQueue,
    ClaimQueue,
    DeliveryLog,
    DashboardLog,
):
    """Repository over the audit database; implements every port of
    :mod:`dicomnode.audit.ports`.

    Parameters
    ----------
    engine : Engine
        Built by :func:`dicomnode.audit.engine.create_audit_engine`.
    max_job_attempts : int
        Attempts a new (or administrator-requeued) job gets before it is dead-lettered.
    clock : callable, optional
        Returns the current time (timezone-aware UTC); injectable for tests.
    """

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        max_job_attempts: int = 3,
        busy_timeout_s: float = 10.0,
        pool_size: int = 5,
        max_overflow: int = 10,
    ) -> AuditLog:
        """Open the database at ``url`` (``sqlite:///...`` or ``postgresql+psycopg://...``).

        The schema is not touched: call :meth:`upgrade` (``dicomnode db upgrade``).
        """
        engine = create_audit_engine(
            url, busy_timeout_s=busy_timeout_s, pool_size=pool_size, max_overflow=max_overflow
        )
        return cls(engine, max_job_attempts=max_job_attempts)

    def upgrade(self) -> None:
        """Bring the schema to the newest Alembic revision (``alembic upgrade head``)."""
        from dicomnode.audit import migrate  # Alembic is only needed here (slow to import)

        migrate.upgrade(self.engine)

    def dispose(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()
