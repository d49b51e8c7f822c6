"""Twins for the outbox tests: a settable clock, succeeded jobs with outputs, and a scripted
Sender (the real senders are tested elsewhere against real peers)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from dicomnode.audit.log import AuditLog
from dicomnode.delivery.base import DeliveryStatus, InstanceOutcome

DIMSE = {
    DeliveryStatus.SUCCESS: 0x0000,
    DeliveryStatus.WARNING: 0xB000,
    DeliveryStatus.TRANSIENT: 0xA700,
    DeliveryStatus.PERMANENT: 0x0122,
}


class ScriptedSender:
    """A Sender whose outcome per file name comes from a script (default: success).

    ``script[name]`` is a list of statuses used one per send of that file; when used up,
    the file is stored. Every batch is kept in ``batches``.
    """

    def __init__(self, name: str, script: dict[str, list[DeliveryStatus]] | None = None):
        self.name = name
        self.script = script or {}
        self.batches: list[list[str]] = []

    def send(self, paths: Sequence[Path]) -> list[InstanceOutcome]:
        """One scripted outcome per path."""
        self.batches.append([path.name for path in paths])
        outcomes = []
        for path in paths:
            planned = self.script.get(path.name, [])
            status = planned.pop(0) if planned else DeliveryStatus.SUCCESS
            outcomes.append(
                InstanceOutcome(path, f"2.25.{path.stem}", status, DIMSE[status], status.value)
            )
        return outcomes


def succeeded_job(
    audit: AuditLog, outputs: int, series: str = "1.2.3.1", association_id: int | None = None
) -> int:
    """A job that succeeded with ``outputs`` SEG outputs named ``<series>-<n>.dcm``, its
    instance received over ``association_id`` (None: imported)."""
    audit.record_instance(
        association_id=association_id,
        sop_instance_uid=f"{series}.1",
        sop_class_uid="1.2.840.10008.5.1.4.1.1.2",
        transfer_syntax_uid="1.2.840.10008.1.2.1",
        study_instance_uid="1.2.826.0.1.1",
        series_instance_uid=series,
        path="/spool/1.dcm",
        size_bytes=1,
        status="stored",
        reason=None,
        header={},
    )
    job_id = audit.create_job(
        study_instance_uid="1.2.826.0.1.1", series_instance_uids=[series], calling_ae=None
    )
    assert audit.claim_next_job("node/1") is not None
    for number in range(outputs):
        audit.record_output(
            job_id,
            path=f"/work/{series}-{number}.dcm",
            sop_instance_uid=f"2.25.{number}",
            sop_class_uid="1.2.840.10008.5.1.4.1.1.66.4",
            kind="SEG",
        )
    audit.finish_job(job_id, state="succeeded")
    return job_id
