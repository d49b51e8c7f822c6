"""Audit records of the receiving side: service events, associations, instances, series, studies."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from dicomnode.audit import tables as m
from dicomnode.audit.convert import admin_action_row, instance_row
from dicomnode.audit.receipts import KEPT, ReceiptBatch
from dicomnode.audit.rows import AdminActionRow, InstanceRow
from dicomnode.audit.store import Store


class IntakeRecords(Store):
    """Service and administrator events, associations and received instances."""

    # --- service and admin ---------------------------------------------------------------

    def record_service_event(self, kind: str, detail: str = "") -> None:
        """Record a service event (``start``, ``stop``, ``config_change`` with the config hash)."""
        with self._uow.write() as session:
            session.add(m.ServiceEvent(kind=kind, detail=detail, occurred_at=self._now()))

    def record_admin_action(self, *, user: str, action: str, target: str, detail: str = "") -> int:
        """Record an administrator's action (e.g. ``retry`` of ``job:12``); returns its id."""
        with self._uow.write() as session:
            return self._add_admin_action(
                session, user=user, action=action, target=target, detail=detail
            )

    def admin_actions(self, *, limit: int = 100) -> list[AdminActionRow]:
        """Administrator actions, newest first."""
        with self._uow.read() as session:
            rows = session.scalars(
                select(m.AdminAction).order_by(m.AdminAction.id.desc()).limit(limit)
            )
            return [admin_action_row(row) for row in rows]

    # --- associations and instances --------------------------------------------------

    @contextmanager
    def receipts(self) -> Iterator[ReceiptBatch]:
        """One write transaction for several association and instance records.

        Committed when the block ends, rolled back (nothing recorded) if it raises; ids
        returned inside the block are valid only once it has committed.
        """
        with self._uow.write() as session:
            batch = ReceiptBatch(session, self._now)
            yield batch
            batch.finish()

    def open_association(
        self, *, calling_ae: str, called_ae: str, peer_address: str, peer_port: int
    ) -> int:
        """Record an accepted association; returns its id for :meth:`close_association`."""
        with self.receipts() as batch:
            return batch.add_association(
                calling_ae=calling_ae,
                called_ae=called_ae,
                peer_address=peer_address,
                peer_port=peer_port,
                reject_reason=None,
            )

    def reject_association(
        self, *, calling_ae: str, called_ae: str, peer_address: str, peer_port: int, reason: str
    ) -> int:
        """Record a rejected association with its reason; returns its id."""
        with self.receipts() as batch:
            return batch.add_association(
                calling_ae=calling_ae,
                called_ae=called_ae,
                peer_address=peer_address,
                peer_port=peer_port,
                reject_reason=reason,
            )

    def close_association(
        self, association_id: int, *, instances: int, bytes_received: int, aborted: bool = False
    ) -> None:
        """Record the end of an association (released or aborted), its counts and duration.

        Raises
        ------
        KeyError
            No association with that id.
        """
        with self.receipts() as batch:
            batch.close_association(
                association_id, instances=instances, bytes_received=bytes_received, aborted=aborted
            )

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
        """Record one receipt of one instance (after the file is durable); returns its row id.

        ``status`` is ``stored`` or ``rejected``; a ``stored`` receipt of a SOP Instance UID
        the series already holds is recorded as ``duplicate`` (idempotent: counts do not
        grow). ``header`` holds key fields by DICOM keyword (PatientID, PatientName,
        AccessionNumber, StudyDate, StudyDescription, Modality, SeriesDescription,
        SeriesNumber); the series and study rows are inserted or updated from it. A new
        stored instance clears the series' ``completed_at`` (the series is receiving again).
        Rejected instances do not touch series or study rows.
        """
        with self.receipts() as batch:
            row = batch.record_instance(
                association_id=association_id,
                sop_instance_uid=sop_instance_uid,
                sop_class_uid=sop_class_uid,
                transfer_syntax_uid=transfer_syntax_uid,
                study_instance_uid=study_instance_uid,
                series_instance_uid=series_instance_uid,
                path=path,
                size_bytes=size_bytes,
                status=status,
                reason=reason,
                header=header,
            )
        return row.id

    def known_instance_paths(self) -> set[str]:
        """Paths of every stored instance (for reconciling the spool at start-up)."""
        with self._uow.read() as session:
            paths = session.scalars(
                select(m.Instance.path)
                .where(m.Instance.status.in_(KEPT), m.Instance.path.is_not(None))
                .distinct()
            )
            return {path for path in paths if path is not None}

    def series_instances(self, series_instance_uid: str) -> list[InstanceRow]:
        """The stored instances of a series, one per SOP Instance UID (its latest receipt)."""
        with self._uow.read() as session:
            return latest_stored(session, series_instance_uids=[series_instance_uid])

    def study_instances(self, study_instance_uid: str) -> list[InstanceRow]:
        """The stored instances of a study, one per SOP Instance UID (its latest receipt)."""
        with self._uow.read() as session:
            return latest_stored(session, study_instance_uid=study_instance_uid)

    def mark_series_complete(self, series_instance_uid: str) -> None:
        """Record that the series' quiet timer expired (sets ``completed_at``).

        A series with no stored instance (all rejected) has no row; nothing happens then.
        """
        with self._uow.write() as session:
            session.execute(
                update(m.Series)
                .where(m.Series.series_instance_uid == series_instance_uid)
                .values(completed_at=self._now())
            )


def latest_stored(
    session: Session,
    *,
    series_instance_uids: list[str] | None = None,
    study_instance_uid: str | None = None,
) -> list[InstanceRow]:
    """The latest kept receipt per (series, SOP Instance UID), in order of first receipt."""
    latest = select(func.max(m.Instance.id)).where(m.Instance.status.in_(KEPT))
    if series_instance_uids is not None:
        latest = latest.where(m.Instance.series_instance_uid.in_(series_instance_uids))
    if study_instance_uid is not None:
        latest = latest.where(m.Instance.study_instance_uid == study_instance_uid)
    latest = latest.group_by(m.Instance.series_instance_uid, m.Instance.sop_instance_uid)
    rows = session.scalars(
        select(m.Instance).where(m.Instance.id.in_(latest)).order_by(m.Instance.id)
    )
    return [instance_row(row) for row in rows]
