"""Audit records of spool retention: which studies are processed, and forgetting their files."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import exists, select, update

from dicomnode.audit import tables as m
from dicomnode.audit.rows import DeliveryState, JobState
from dicomnode.audit.store import Store

DONE_STATES = (JobState.SUCCEEDED.value, JobState.REJECTED.value, JobState.CANCELLED.value)
"""Job states after which a study's files are no longer needed."""


class RetentionRecords(Store):
    """Processed studies and the spool paths of their instances."""

    def processed_studies(self, *, received_before: datetime) -> list[str]:
        """Study Instance UIDs whose last instance arrived before ``received_before``
        (timezone-aware UTC), that have at least one job, whose jobs all ended
        ``succeeded``, ``rejected`` or ``cancelled`` and none of whose results waits in the
        outbox; oldest first. Studies with a failed or dead-lettered job are not among them
        (an operator may retry them)."""
        unfinished = exists().where(
            m.Job.study_instance_uid == m.Study.study_instance_uid,
            m.Job.state.not_in(DONE_STATES),
        )
        has_job = exists().where(m.Job.study_instance_uid == m.Study.study_instance_uid)
        undelivered = exists().where(
            m.Job.study_instance_uid == m.Study.study_instance_uid,
            m.Output.job_id == m.Job.id,
            m.Delivery.output_id == m.Output.id,
            m.Delivery.state == DeliveryState.PENDING.value,
        )
        with self._uow.read() as session:
            return list(
                session.scalars(
                    select(m.Study.study_instance_uid)
                    .where(
                        m.Study.last_received_at < received_before,
                        has_job,
                        ~unfinished,
                        ~undelivered,
                    )
                    .order_by(m.Study.last_received_at)
                )
            )

    def forget_instance_paths(self, study_instance_uid: str) -> None:
        """Clear the spool paths of the study's instances (its files were deleted), so that
        start-up reconciliation does not report them missing."""
        with self._uow.write() as session:
            session.execute(
                update(m.Instance)
                .where(m.Instance.study_instance_uid == study_instance_uid)
                .values(path=None)
            )
