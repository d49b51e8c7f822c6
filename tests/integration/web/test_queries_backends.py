"""The dashboard's queries, ``/metrics`` and spool retention on SQLite and PostgreSQL
(the ``audit`` fixture of the audit tests runs each test on both)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from dicomnode.audit.log import AuditLog
from dicomnode.intake.retention import SpoolRetention
from dicomnode.web.queries import DashboardQueries

STUDY = "1.2.826.0.1.55"
SERIES = "1.2.826.0.1.55.1"


def _receive(audit: AuditLog, spool: Path, count: int) -> None:
    folder = spool / STUDY / SERIES
    folder.mkdir(parents=True, exist_ok=True)
    association = audit.open_association(
        calling_ae="PACS", called_ae="DICOMNODE", peer_address="127.0.0.1", peer_port=4000
    )
    for number in range(count):
        path = folder / f"{SERIES}.{number}.dcm"
        path.write_bytes(b"\0" * 100)
        audit.record_instance(
            association_id=association, sop_instance_uid=f"{SERIES}.{number}",
            sop_class_uid="1.2.840.10008.5.1.4.1.1.2",
            transfer_syntax_uid="1.2.840.10008.1.2.1", study_instance_uid=STUDY,
            series_instance_uid=SERIES, path=str(path), size_bytes=100, status="stored",
            reason=None, header={"PatientID": "PAT-55"},
        )
    audit.close_association(association, instances=count, bytes_received=100 * count)


def test_metrics_snapshot_and_retention(audit: AuditLog, clock: Any, tmp_path: Path) -> None:
    spool = tmp_path / "spool"
    queries = DashboardQueries(audit.engine)
    _receive(audit, spool, 3)
    audit.reject_association(
        calling_ae="X", called_ae="DICOMNODE", peer_address="10.0.0.1", peer_port=1, reason="no"
    )
    job_id = audit.create_job(study_instance_uid=STUDY, series_instance_uids=[SERIES],
                              calling_ae="PACS")
    assert queries.queue_depth() == 1
    audit.claim_next_job("test/1")
    audit.add_job_event(job_id, stage="segment", message="", duration_s=12.5)
    output = audit.record_output(job_id, path="/r/sr.dcm", sop_instance_uid=f"{STUDY}.9",
                                 sop_class_uid="1.2.840.10008.5.1.4.1.1.88.33", kind="SR")
    assert output > 0
    audit.finish_job(job_id, state="succeeded")
    audit.plan_deliveries(job_id, destinations=["pacs"])
    (delivery,) = audit.pending_deliveries()
    audit.record_delivery(delivery.id, status="permanent", dimse_status=0xA700,
                          detail="out of resources", next_attempt_at=None)

    snapshot = queries.metrics()
    assert snapshot.instances_by_status == {"stored": 3}
    assert snapshot.bytes_received == 300
    assert snapshot.associations_by_outcome == {"accepted": 1, "rejected": 1}
    assert snapshot.jobs_by_state["succeeded"] == 1
    assert snapshot.delivery_failures == {("pacs", "permanent"): 1}
    assert snapshot.deliveries_by_state == {"dead_lettered": 1}
    (segment,) = snapshot.stage_durations
    assert (segment.stage, segment.count, segment.total_s) == ("segment", 1, 12.5)
    assert segment.cumulative[:6] == (0, 0, 0, 0, 0, 0) and segment.cumulative[6:] == (1,) * 6
    assert queries.processing_times_s() == [0.0]  # the test clock does not move
    assert [r.reject_reason for r in queries.recent_associations(rejected_only=True)] == ["no"]

    clock.advance(timedelta(days=8).total_seconds())
    retention = SpoolRetention(audit, spool, retention_days=7, clock=clock)
    (purged,) = retention.purge()
    assert (purged.study_instance_uid, purged.files, purged.bytes) == (STUDY, 3, 300)
    assert not (spool / STUDY).exists()
    assert audit.known_instance_paths() == set()
    assert queries.service_events(limit=1)[0].kind == "spool_retention"
