"""Copy ORM objects into the frozen rows of :mod:`dicomnode.audit.rows` (inside a session)."""

from __future__ import annotations

from collections.abc import Sequence

from dicomnode.audit import tables as m
from dicomnode.audit.rows import (
    AdminActionRow,
    AssociationRow,
    DeliveryAttemptRow,
    DeliveryRow,
    DeliveryState,
    InstanceRow,
    InstanceStatus,
    JobEventRow,
    JobRow,
    JobState,
    OutputKind,
    OutputRow,
    SeriesRow,
    StudyRow,
)


def association_row(a: m.Association) -> AssociationRow:
    """Row of an association."""
    return AssociationRow(
        id=a.id,
        calling_ae=a.calling_ae,
        called_ae=a.called_ae,
        peer_address=a.peer_address,
        peer_port=a.peer_port,
        accepted=a.accepted,
        reject_reason=a.reject_reason,
        instances=a.instances,
        bytes_received=a.bytes_received,
        aborted=a.aborted,
        started_at=a.started_at,
        ended_at=a.ended_at,
        duration_s=a.duration_s,
    )


def instance_row(i: m.Instance) -> InstanceRow:
    """Row of an instance receipt."""
    return InstanceRow(
        id=i.id,
        association_id=i.association_id,
        sop_instance_uid=i.sop_instance_uid,
        sop_class_uid=i.sop_class_uid,
        transfer_syntax_uid=i.transfer_syntax_uid,
        study_instance_uid=i.study_instance_uid,
        series_instance_uid=i.series_instance_uid,
        path=i.path,
        size_bytes=i.size_bytes,
        status=InstanceStatus(i.status),
        reason=i.reason,
        received_at=i.received_at,
    )


def series_row(s: m.Series) -> SeriesRow:
    """Row of a series."""
    return SeriesRow(
        series_instance_uid=s.series_instance_uid,
        study_instance_uid=s.study_instance_uid,
        modality=s.modality,
        series_description=s.series_description,
        series_number=s.series_number,
        instance_count=s.instance_count,
        last_received_at=s.last_received_at,
        completed_at=s.completed_at,
    )


def study_row(s: m.Study) -> StudyRow:
    """Row of a study."""
    return StudyRow(
        study_instance_uid=s.study_instance_uid,
        patient_id=s.patient_id,
        patient_name=s.patient_name,
        accession_number=s.accession_number,
        study_date=s.study_date,
        study_description=s.study_description,
        instance_count=s.instance_count,
        last_received_at=s.last_received_at,
    )


def job_row(j: m.Job, series_instance_uids: Sequence[str]) -> JobRow:
    """Row of a job with its series."""
    return JobRow(
        id=j.id,
        study_instance_uid=j.study_instance_uid,
        series_instance_uids=tuple(sorted(series_instance_uids)),
        state=JobState(j.state),
        attempts=j.attempts,
        max_attempts=j.max_attempts,
        calling_ae=j.calling_ae,
        worker=j.worker,
        error=j.error,
        result=j.result,
        created_at=j.created_at,
        updated_at=j.updated_at,
        started_at=j.started_at,
        finished_at=j.finished_at,
    )


def job_event_row(e: m.JobEvent) -> JobEventRow:
    """Row of a job event."""
    return JobEventRow(
        id=e.id,
        job_id=e.job_id,
        attempt=e.attempt,
        stage=e.stage,
        message=e.message,
        duration_s=e.duration_s,
        occurred_at=e.occurred_at,
    )


def output_row(o: m.Output) -> OutputRow:
    """Row of an output."""
    return OutputRow(
        id=o.id,
        job_id=o.job_id,
        version=o.version,
        path=o.path,
        sop_instance_uid=o.sop_instance_uid,
        sop_class_uid=o.sop_class_uid,
        kind=OutputKind(o.kind),
        created_at=o.created_at,
    )


def delivery_row(d: m.Delivery, o: m.Output) -> DeliveryRow:
    """Row of an outbox entry with the output it sends."""
    return DeliveryRow(
        id=d.id,
        output_id=d.output_id,
        job_id=o.job_id,
        destination=d.destination,
        path=o.path,
        sop_instance_uid=o.sop_instance_uid,
        state=DeliveryState(d.state),
        attempts=d.attempts,
        attempts_since_armed=d.attempts - d.attempts_before_rearm,
        next_attempt_at=d.next_attempt_at,
        last_status=d.last_status,
        last_detail=d.last_detail,
        updated_at=d.updated_at,
    )


def delivery_attempt_row(a: m.DeliveryAttempt) -> DeliveryAttemptRow:
    """Row of one send."""
    return DeliveryAttemptRow(
        id=a.id,
        delivery_id=a.delivery_id,
        attempt=a.attempt,
        status=a.status,
        dimse_status=a.dimse_status,
        detail=a.detail,
        occurred_at=a.occurred_at,
    )


def admin_action_row(a: m.AdminAction) -> AdminActionRow:
    """Row of an administrator's action."""
    return AdminActionRow(
        id=a.id,
        user=a.user,
        action=a.action,
        target=a.target,
        detail=a.detail,
        occurred_at=a.occurred_at,
    )
