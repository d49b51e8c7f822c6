"""Audit records of a job's outputs and of their delivery (the outbox's persistent state)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import ColumnElement, or_, select, update
from sqlalchemy.orm import Session

from dicomnode.audit import tables as m
from dicomnode.audit.convert import delivery_row
from dicomnode.audit.errors import DeliveryStateError, JobStateError
from dicomnode.audit.job_records import DELIVERED_STATES, load_job
from dicomnode.audit.rows import (
    DeliveryRow,
    DeliveryState,
    InstanceStatus,
    JobState,
    OutputKind,
    PlanOutput,
)
from dicomnode.audit.store import Store, job_target

DELIVERED_STATUSES = ("success", "warning")
"""``DeliveryStatus`` values that mean the destination stored the instance."""
SEND_STATUSES = ("success", "warning", "transient", "permanent")
"""Every ``DeliveryStatus`` value."""
DELIVERED_VALUES = tuple(state.value for state in DELIVERED_STATES)
"""Job states whose final attempt's outputs are delivered."""


def put_output(
    session: Session,
    job: m.Job,
    *,
    path: str,
    sop_instance_uid: str,
    sop_class_uid: str,
    kind: OutputKind,
    now: datetime,
) -> int:
    """Record an output of the running attempt of a locked job (idempotent per SOP Instance
    UID: a rerun that re-creates an object with its deterministic UID moves the row to the
    current attempt); returns its id."""
    output = session.scalar(
        select(m.Output).where(
            m.Output.job_id == job.id, m.Output.sop_instance_uid == sop_instance_uid
        )
    )
    if output is None:
        output = m.Output(job_id=job.id, sop_instance_uid=sop_instance_uid)
        session.add(output)
    output.version = job.attempts
    output.path = path
    output.sop_class_uid = sop_class_uid
    output.kind = kind.value
    output.created_at = now
    session.flush()
    return output.id


class DeliveryRecords(Store):
    """Outputs and outbox entries."""

    def record_output(
        self,
        job_id: int,
        *,
        path: str,
        sop_instance_uid: str,
        sop_class_uid: str,
        kind: str | OutputKind,
    ) -> int:
        """Record an output of the job's running attempt; returns its id.

        Idempotent per (job, SOP Instance UID): recording it again (e.g. an attempt that
        re-creates an object with a deterministic UID) moves the row to the current attempt.

        Raises
        ------
        JobStateError
            The job is not running.
        """
        output_kind = OutputKind(kind)
        with self._uow.write() as session:
            job = load_job(session, job_id, lock=True)
            if job.state != JobState.RUNNING.value:
                raise JobStateError(f"job {job_id} is {job.state}, not running")
            return put_output(
                session,
                job,
                path=path,
                sop_instance_uid=sop_instance_uid,
                sop_class_uid=sop_class_uid,
                kind=output_kind,
                now=self._now(),
            )

    def record_plan_outputs(self, approval_id: int, outputs: Sequence[PlanOutput]) -> list[int]:
        """Record the SR and PDF of an approved re-plan as outputs of its finished job, to be
        delivered to the job's destinations; returns their output ids.

        They join the outputs of the job's final attempt, and the job's deliveries are
        planned again (:meth:`plan_deliveries` adds entries for the new outputs only), so the
        outbox sends them with its retries and the job page shows their delivery states.
        Idempotent per SOP Instance UID.

        Raises
        ------
        ValueError
            No such approval, or an output that is not the approval's SR or PDF.
        JobStateError
            The job has not succeeded.
        """
        with self._uow.write() as session:
            approval = session.get(m.PlanApproval, approval_id)
            if approval is None:
                raise ValueError(f"no plan approval {approval_id}")
            approved = {approval.sr_sop_instance_uid, approval.pdf_sop_instance_uid}
            strangers = [o.sop_instance_uid for o in outputs if o.sop_instance_uid not in approved]
            if strangers:
                raise ValueError(f"not the SR or PDF of approval {approval_id}: {strangers}")
            job = load_job(session, approval.job_id, lock=True)
            if job.state != JobState.SUCCEEDED.value:
                raise JobStateError(f"job {job.id} is {job.state}, not succeeded")
            ids = []
            for found in outputs:
                output = session.scalar(
                    select(m.Output).where(
                        m.Output.job_id == job.id,
                        m.Output.sop_instance_uid == found.sop_instance_uid,
                    )
                )
                if output is None:
                    output = m.Output(
                        job_id=job.id,
                        sop_instance_uid=found.sop_instance_uid,
                        version=job.output_version or job.attempts,
                        path=found.path,
                        sop_class_uid=found.sop_class_uid,
                        kind=OutputKind(found.kind).value,
                        created_at=self._now(),
                    )
                    session.add(output)
                    session.flush()
                ids.append(output.id)
            job.deliveries_planned_at = None
            return ids

    def plan_deliveries(self, job_id: int, *, destinations: Sequence[str]) -> int:
        """Put every output of the job's final attempt (results of a succeeded job, the
        report of a rejected one) in the outbox for each destination (idempotent), and mark
        the job's deliveries planned.

        Returns
        -------
        int
            The number of new outbox entries.

        Raises
        ------
        JobStateError
            The job has neither succeeded nor been rejected.
        """
        now = self._now()
        with self._uow.write() as session:
            job = load_job(session, job_id, lock=True)
            if job.state not in DELIVERED_VALUES:
                raise JobStateError(f"job {job_id} is {job.state}, not succeeded or rejected")
            outputs = session.scalars(
                select(m.Output.id).where(
                    m.Output.job_id == job_id, m.Output.version == job.output_version
                )
            ).all()
            existing = {
                (output_id, destination)
                for output_id, destination in session.execute(
                    select(m.Delivery.output_id, m.Delivery.destination).where(
                        m.Delivery.output_id.in_(outputs)
                    )
                )
            }
            new = [
                m.Delivery(
                    output_id=output_id,
                    destination=destination,
                    state=DeliveryState.PENDING.value,
                    attempts=0,
                    attempts_before_rearm=0,
                    next_attempt_at=now,
                    created_at=now,
                    updated_at=now,
                )
                for output_id in outputs
                for destination in destinations
                if (output_id, destination) not in existing
            ]
            session.add_all(new)
            job.deliveries_planned_at = now
            return len(new)

    def job_sender(self, job_id: int) -> tuple[str, str] | None:
        """The calling AE title and peer address of the association that brought the job's
        most recently received stored instance (where "return to sender" sends results).

        Returns
        -------
        tuple of (str, str) or None
            ``(calling_ae, peer_address)``; None when no stored instance of the job's series
            came over an association (e.g. files imported from a folder).
        """
        with self._uow.read() as session:
            load_job(session, job_id)
            found = session.execute(
                select(m.Association.calling_ae, m.Association.peer_address)
                .join(m.Instance, m.Instance.association_id == m.Association.id)
                .join(
                    m.JobSeries, m.JobSeries.series_instance_uid == m.Instance.series_instance_uid
                )
                .where(
                    m.JobSeries.job_id == job_id, m.Instance.status != InstanceStatus.REJECTED.value
                )
                .order_by(m.Instance.received_at.desc(), m.Instance.id.desc())
                .limit(1)
            ).first()
            return None if found is None else (str(found[0]), str(found[1]))

    def jobs_awaiting_delivery_plan(self, *, limit: int = 100) -> list[int]:
        """Succeeded or rejected jobs whose deliveries were not planned yet."""
        with self._uow.read() as session:
            return list(
                session.scalars(
                    select(m.Job.id)
                    .where(
                        m.Job.state.in_(DELIVERED_VALUES),
                        m.Job.deliveries_planned_at.is_(None),
                    )
                    .order_by(m.Job.id)
                    .limit(limit)
                )
            )

    def pending_deliveries(
        self,
        *,
        destinations: Sequence[str] | None = None,
        destination_prefix: str | None = None,
        due_before: datetime | None = None,
        limit: int = 100,
    ) -> list[DeliveryRow]:
        """Outbox entries due for a send: ``pending`` with ``next_attempt_at`` at or before
        ``due_before`` (default: now), oldest due first; if ``destinations`` is given, only
        for those and for names starting with ``destination_prefix`` (entries of a
        destination no longer configured wait, untouched)."""
        due = due_before or self._now()
        statement = (
            select(m.Delivery, m.Output)
            .join(m.Output, m.Output.id == m.Delivery.output_id)
            .where(
                m.Delivery.state == DeliveryState.PENDING.value,
                m.Delivery.next_attempt_at <= due,
            )
        )
        if destinations is not None:
            wanted: ColumnElement[bool] = m.Delivery.destination.in_(list(destinations))
            if destination_prefix is not None:
                wanted = or_(
                    wanted, m.Delivery.destination.startswith(destination_prefix, autoescape=True)
                )
            statement = statement.where(wanted)
        with self._uow.read() as session:
            found = session.execute(
                statement.order_by(m.Delivery.next_attempt_at, m.Delivery.id).limit(limit)
            ).all()
            return [delivery_row(delivery, output) for delivery, output in found]

    def record_delivery(
        self,
        delivery_id: int,
        *,
        status: str,
        dimse_status: int | None,
        detail: str,
        next_attempt_at: datetime | None,
    ) -> DeliveryRow:
        """Record one send and move the outbox entry on.

        Parameters
        ----------
        delivery_id : int
            The outbox entry.
        status : str
            A :class:`~dicomnode.delivery.base.DeliveryStatus` value.
        dimse_status : int or None
            DIMSE (or HTTP) status the destination answered with.
        detail : str
            Explanation (no PHI).
        next_attempt_at : datetime or None
            For an undelivered instance: when to try again; ``None`` dead-letters it.
            Ignored for delivered statuses.

        Raises
        ------
        DeliveryStateError
            No such entry, or it is not pending.
        """
        if status not in SEND_STATUSES:
            raise ValueError(f"unknown delivery status {status!r}")
        now = self._now()
        with self._uow.write() as session:
            delivery = session.scalar(
                select(m.Delivery).where(m.Delivery.id == delivery_id).with_for_update()
            )
            if delivery is None or delivery.state != DeliveryState.PENDING.value:
                state = "missing" if delivery is None else delivery.state
                raise DeliveryStateError(f"delivery {delivery_id} is {state}, not pending")
            delivery.attempts += 1
            session.add(
                m.DeliveryAttempt(
                    delivery_id=delivery_id,
                    attempt=delivery.attempts,
                    status=status,
                    dimse_status=dimse_status,
                    detail=detail,
                    occurred_at=now,
                )
            )
            if status in DELIVERED_STATUSES:
                delivery.state = DeliveryState.DELIVERED.value
                delivery.next_attempt_at = None
            elif next_attempt_at is None:
                delivery.state = DeliveryState.DEAD_LETTERED.value
                delivery.next_attempt_at = None
            else:
                delivery.next_attempt_at = next_attempt_at
            delivery.last_status = status
            delivery.last_detail = detail
            delivery.updated_at = now
            output = session.get_one(m.Output, delivery.output_id)
            return delivery_row(delivery, output)

    def rearm_deliveries(self, job_id: int, *, by_user: str) -> int:
        """Make the job's dead-lettered deliveries pending again, due now, with a fresh
        retry budget; records the administrator's action. Returns how many."""
        now = self._now()
        with self._uow.write() as session:
            load_job(session, job_id)
            outputs = select(m.Output.id).where(m.Output.job_id == job_id)
            result = session.execute(
                update(m.Delivery)
                .where(
                    m.Delivery.output_id.in_(outputs),
                    m.Delivery.state == DeliveryState.DEAD_LETTERED.value,
                )
                .values(
                    state=DeliveryState.PENDING.value,
                    attempts_before_rearm=m.Delivery.attempts,
                    next_attempt_at=now,
                    updated_at=now,
                )
                .execution_options(synchronize_session=False)
            )
            count = int(getattr(result, "rowcount", 0))
            if count:
                self._add_admin_action(
                    session,
                    user=by_user,
                    action="rearm_deliveries",
                    target=job_target(job_id),
                    detail=f"{count} deliveries",
                )
            return count
