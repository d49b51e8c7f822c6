"""State shared by the parts of :class:`~dicomnode.audit.log.AuditLog`."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from dicomnode.audit import tables as m
from dicomnode.audit.engine import UnitsOfWork


def utc_now() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


def job_target(job_id: int) -> str:
    """How an administrator action names a job (``job:12``)."""
    return f"job:{job_id}"


class Store:
    """Engine, units of work, clock and job policy of an audit log.

    Parameters
    ----------
    engine : Engine
        Built by :func:`dicomnode.audit.engine.create_audit_engine`.
    max_job_attempts : int
        Attempts a new (or administrator-requeued) job gets before it is dead-lettered.
    clock : callable, optional
        Returns the current time (timezone-aware UTC); injectable for tests.
    """

    def __init__(
        self,
        engine: Engine,
        *,
        max_job_attempts: int = 3,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        if max_job_attempts < 1:
            raise ValueError("max_job_attempts must be at least 1")
        self._engine = engine
        self.max_job_attempts = max_job_attempts
        self._uow = UnitsOfWork(engine)
        self._clock = clock or utc_now

    @property
    def engine(self) -> Engine:
        """The SQLAlchemy engine of the audit database."""
        return self._engine

    def _now(self) -> datetime:
        return self._clock()

    def _add_admin_action(
        self, session: Session, *, user: str, action: str, target: str, detail: str = ""
    ) -> int:
        row = m.AdminAction(
            user=user, action=action, target=target, detail=detail, occurred_at=self._now()
        )
        session.add(row)
        session.flush()
        return row.id
