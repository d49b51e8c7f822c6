"""Receive records (associations and instances) written inside one transaction.

:meth:`~dicomnode.audit.intake.IntakeRecords.receipts` opens a :class:`ReceiptBatch`; the
receive recorder puts everything the SCP processes reported since its last write into one
batch, so a burst of instances costs one commit (one ``fsync`` on SQLite) instead of one each.
The single-record methods of :class:`~dicomnode.audit.intake.IntakeRecords` are batches of
one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from dicomnode.audit import tables as m
from dicomnode.audit.rows import InstanceStatus

KEPT = (InstanceStatus.STORED.value, InstanceStatus.DUPLICATE.value)
"""Instance statuses whose file is in the spool."""


_SERIES_FIELDS = (
    ("Modality", "modality"),
    ("SeriesDescription", "series_description"),
    ("SeriesNumber", "series_number"),
)
"""Header keywords kept on the series row, and their columns."""

_STUDY_FIELDS = (
    ("PatientID", "patient_id"),
    ("PatientName", "patient_name"),
    ("AccessionNumber", "accession_number"),
    ("StudyDate", "study_date"),
    ("StudyDescription", "study_description"),
)
"""Header keywords kept on the study row, and their columns."""


def _present(header: dict[str, str], fields: tuple[tuple[str, str], ...]) -> dict[str, str]:
    """The non-empty header values among ``fields``, by column name."""
    found = {column: header.get(keyword) for keyword, column in fields}
    return {column: str(value) for column, value in found.items() if value not in (None, "")}


@dataclass
class _StudyChanges:
    """What one batch changes on a study row."""

    last_received_at: datetime | None = None
    new_instances: int = 0
    values: dict[str, str] = field(default_factory=dict)


def _insert_ignoring_conflict(session: Session, model: type[m.Base], **values: Any) -> None:
    """``INSERT ... ON CONFLICT DO NOTHING`` (safe against a concurrent insert)."""
    statement: Insert
    if session.get_bind().dialect.name == "postgresql":
        statement = postgresql.insert(model).values(**values).on_conflict_do_nothing()
    else:
        statement = sqlite.insert(model).values(**values).on_conflict_do_nothing()
    session.execute(statement)


class ReceiptBatch:
    """Association and instance records sharing one open write transaction.

    Parameters
    ----------
    session : Session
        The open write session; committed by whoever opened it.
    clock : callable
        Returns the current time (timezone-aware UTC).
    """

    def __init__(self, session: Session, clock: Callable[[], datetime]) -> None:
        self._session = session
        self._now = clock
        self._rows: list[m.Instance] = []
        self._by_series: dict[str, list[tuple[m.Instance, dict[str, str]]]] = {}

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
        now = self._now()
        row = m.Association(
            calling_ae=calling_ae,
            called_ae=called_ae,
            peer_address=peer_address,
            peer_port=peer_port,
            accepted=reject_reason is None,
            reject_reason=reject_reason,
            instances=0,
            bytes_received=0,
            aborted=False,
            started_at=now,
            ended_at=None if reject_reason is None else now,
            duration_s=None if reject_reason is None else 0.0,
        )
        self._session.add(row)
        self._session.flush()
        return row.id

    def close_association(
        self, association_id: int, *, instances: int, bytes_received: int, aborted: bool = False
    ) -> None:
        """Record the end of an association (released or aborted), its counts and duration.

        Raises
        ------
        KeyError
            No association with that id.
        """
        now = self._now()
        row = self._session.get(m.Association, association_id)
        if row is None:
            raise KeyError(f"no association {association_id}")
        row.instances = instances
        row.bytes_received = bytes_received
        row.aborted = aborted
        row.ended_at = now
        row.duration_s = (now - row.started_at).total_seconds()

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
    ) -> m.Instance:
        """Add one receipt of one instance (see
        :meth:`~dicomnode.audit.intake.IntakeRecords.record_instance`).

        Returns
        -------
        models.Instance
            Its row; duplicate detection, the series and study rows and the insert happen
            in :meth:`finish`, so its ``id`` and final ``status`` are known only then.
        """
        row = m.Instance(
            association_id=association_id,
            sop_instance_uid=sop_instance_uid,
            sop_class_uid=sop_class_uid,
            transfer_syntax_uid=transfer_syntax_uid,
            study_instance_uid=study_instance_uid,
            series_instance_uid=series_instance_uid,
            path=path,
            size_bytes=size_bytes,
            status=InstanceStatus(status).value,
            reason=reason,
            received_at=self._now(),
        )
        if status != InstanceStatus.REJECTED.value and series_instance_uid and study_instance_uid:
            self._by_series.setdefault(series_instance_uid, []).append((row, header))
        self._rows.append(row)
        return row

    def count_refusal(
        self, *, peer_address: str, reason: str, detail: str, at: datetime, window_s: float
    ) -> bool:
        """Count one refused connection: on the row of ``peer_address`` and ``reason`` last
        counted less than ``window_s`` seconds before ``at``, or on a new row.

        Returns
        -------
        bool
            Whether a new row was started (the caller logs once per row).
        """
        row = self._session.scalars(
            select(m.ConnectionRefusal)
            .where(
                m.ConnectionRefusal.peer_address == peer_address,
                m.ConnectionRefusal.reason == reason,
                m.ConnectionRefusal.first_at > at - timedelta(seconds=window_s),
            )
            .order_by(m.ConnectionRefusal.id.desc())
            .limit(1)
        ).first()
        if row is not None:
            row.count += 1
            row.last_at = max(row.last_at, at)
            return False
        self._session.add(
            m.ConnectionRefusal(
                peer_address=peer_address,
                reason=reason,
                detail=detail,
                count=1,
                first_at=at,
                last_at=at,
            )
        )
        self._session.flush()
        return True

    def finish(self) -> None:
        """Write the instances added so far: per series (in UID order, so that concurrent
        writers lock rows in the same order) insert the series and study rows if missing,
        lock the series row, mark re-receipts of kept SOP Instance UIDs as ``duplicate``
        (idempotent: counts do not grow), update counts and key header fields; then one
        update per study and one insert of every row. Returns the batch to empty."""
        studies: dict[str, _StudyChanges] = {}
        for series_uid in sorted(self._by_series):
            received = self._by_series[series_uid]
            first, _ = received[0]
            series = self._lock_series(first.study_instance_uid, series_uid, first.received_at)
            kept = self._kept(series_uid, {row.sop_instance_uid for row, _ in received})
            for row, header in received:
                if row.status == InstanceStatus.STORED.value and row.sop_instance_uid in kept:
                    row.status = InstanceStatus.DUPLICATE.value
                changes = studies.setdefault(row.study_instance_uid, _StudyChanges())
                changes.last_received_at = row.received_at
                for column, value in _present(header, _SERIES_FIELDS).items():
                    setattr(series, column, value)
                changes.values.update(_present(header, _STUDY_FIELDS))
                series.last_received_at = row.received_at
                if row.status == InstanceStatus.STORED.value:
                    kept.add(row.sop_instance_uid)
                    series.instance_count += 1
                    series.completed_at = None
                    changes.new_instances += 1
        for study_uid, changes in studies.items():
            self._session.execute(
                update(m.Study)
                .where(m.Study.study_instance_uid == study_uid)
                .values(
                    last_received_at=changes.last_received_at,
                    instance_count=m.Study.instance_count + changes.new_instances,
                    **changes.values,
                )
            )
        self._session.add_all(self._rows)
        self._session.flush()
        self._rows, self._by_series = [], {}

    def _lock_series(self, study_uid: str, series_uid: str, now: datetime) -> m.Series:
        """Insert the study and series rows if missing, then lock the series row.

        Locking the series row serialises concurrent receipts of one series on PostgreSQL
        (SQLite serialises every writer anyway), so duplicate detection is exact.
        """
        session = self._session
        _insert_ignoring_conflict(
            session,
            m.Study,
            study_instance_uid=study_uid,
            instance_count=0,
            first_received_at=now,
            last_received_at=now,
        )
        _insert_ignoring_conflict(
            session,
            m.Series,
            series_instance_uid=series_uid,
            study_instance_uid=study_uid,
            instance_count=0,
            first_received_at=now,
            last_received_at=now,
        )
        return session.scalars(
            select(m.Series).where(m.Series.series_instance_uid == series_uid).with_for_update()
        ).one()

    def _kept(self, series_uid: str, sop_uids: set[str]) -> set[str]:
        """Which of ``sop_uids`` the series already keeps (stored or duplicate rows)."""
        return set(
            self._session.scalars(
                select(m.Instance.sop_instance_uid).where(
                    m.Instance.series_instance_uid == series_uid,
                    m.Instance.sop_instance_uid.in_(sop_uids),
                    m.Instance.status.in_(KEPT),
                )
            )
        )
