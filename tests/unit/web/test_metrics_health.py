"""``/metrics`` parsed with the Prometheus parser; ``/health`` and ``/health/ready``."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import text
from web_testing import failed_job

from dicomnode.audit.log import AuditLog
from dicomnode.completion import CompletionConfig, CompletionTracker
from dicomnode.config import DicomNodeConfig
from dicomnode.intake.recorder import ReceiveRecorder
from dicomnode.scp.events import ConnectionRefused
from dicomnode.web.app import create_app


def _samples(client: TestClient) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    found = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def _receive(audit: AuditLog, association: int, sop: str, size: int) -> None:
    audit.record_instance(
        association_id=association, sop_instance_uid=sop,
        sop_class_uid="1.2.840.10008.5.1.4.1.1.2", transfer_syntax_uid="1.2.840.10008.1.2.1",
        study_instance_uid="1.2.826.0.1.9", series_instance_uid="1.2.826.0.1.9.1",
        path=None, size_bytes=size, status="stored", reason=None, header={},
    )


def test_metrics_move_as_instances_and_associations_arrive(
    client: TestClient, audit: AuditLog
) -> None:
    before = _samples(client)
    assert before[("dicomnode_instances_received_total", (("status", "stored"),))] == 0
    assert before[("dicomnode_received_bytes_total", ())] == 0
    association = audit.open_association(
        calling_ae="PACS", called_ae="DICOMNODE", peer_address="127.0.0.1", peer_port=4000
    )
    for number in range(3):
        _receive(audit, association, f"1.2.826.0.1.9.1.{number}", 1000 + number)
    _receive(audit, association, "1.2.826.0.1.9.1.0", 1000)  # sent twice: a duplicate
    audit.reject_association(
        calling_ae="NOBODY", called_ae="DICOMNODE", peer_address="10.0.0.9", peer_port=4001,
        reason="calling AE title 'NOBODY' is not in the allow-list",
    )
    after = _samples(client)
    assert after[("dicomnode_instances_received_total", (("status", "stored"),))] == 3
    assert after[("dicomnode_instances_received_total", (("status", "duplicate"),))] == 1
    assert after[("dicomnode_received_bytes_total", ())] == 1000 + 1001 + 1002 + 1000
    assert after[("dicomnode_associations_total", (("outcome", "accepted"),))] == 1
    assert after[("dicomnode_associations_total", (("outcome", "rejected"),))] == 1
    assert after[("dicomnode_associations_aborted_total", ())] == 0
    audit.close_association(association, instances=4, bytes_received=4003, aborted=True)
    assert _samples(client)[("dicomnode_associations_aborted_total", ())] == 1


def test_jobs_stage_durations_and_queue_age(
    audit: AuditLog, make_config: Callable[..., DicomNodeConfig]
) -> None:
    now = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
    current = {"now": now}
    audit = AuditLog(audit.engine, max_job_attempts=1, clock=lambda: current["now"])
    client = TestClient(create_app(make_config(), audit, clock=lambda: current["now"]))
    job_id = failed_job(audit)
    for stage, seconds in (("segment", 3.0), ("segment", 45.0), ("encode", 0.3)):
        audit.add_job_event(job_id, stage=stage, message="", duration_s=seconds)
    audit.requeue_job(job_id, by_user="test")
    current["now"] = now + timedelta(seconds=90)
    samples = _samples(client)
    assert samples[("dicomnode_jobs", (("state", "queued"),))] == 1
    assert samples[("dicomnode_jobs", (("state", "dead_lettered"),))] == 0
    segment = (("stage", "segment"),)
    assert samples[("dicomnode_job_stage_duration_seconds_count", segment)] == 2
    assert samples[("dicomnode_job_stage_duration_seconds_sum", segment)] == 48.0
    bucket = "dicomnode_job_stage_duration_seconds_bucket"
    assert samples[(bucket, (("le", "2"), *segment))] == 0
    assert samples[(bucket, (("le", "5"), *segment))] == 1
    assert samples[(bucket, (("le", "60"), *segment))] == 2
    assert samples[(bucket, (("le", "+Inf"), *segment))] == 2
    assert samples[(bucket, (("le", "0.5"), ("stage", "encode")))] == 1
    assert samples[("dicomnode_oldest_queued_job_age_seconds", ())] == 90.0


def test_health_is_unauthenticated_and_ready_checks_db_and_spool(client: TestClient) -> None:
    assert client.get("/health").json() == {"status": "ok"}
    ready = client.get("/health/ready")
    assert ready.status_code == 200
    body = ready.json()
    assert body["status"] == "ready"
    assert body["checks"]["database"]["ok"] and body["checks"]["spool"]["ok"]


def test_ready_fails_when_the_database_is_unreachable(
    make_config: Callable[..., DicomNodeConfig],
) -> None:
    unreachable = AuditLog.from_url("postgresql+psycopg://nobody@127.0.0.1:9/none")
    client = TestClient(create_app(make_config(), unreachable))
    assert client.get("/health").status_code == 200
    ready = client.get("/health/ready")
    assert ready.status_code == 503
    assert ready.json()["checks"]["database"]["ok"] is False
    assert ready.json()["checks"]["spool"]["ok"] is True


def test_ready_fails_below_the_disk_watermark(
    audit: AuditLog, make_config: Callable[..., DicomNodeConfig], tmp_path: Path
) -> None:
    config = make_config(spool={"path": str(tmp_path / "spool"), "min_free_bytes": 2**62})
    ready = TestClient(create_app(config, audit)).get("/health/ready")
    assert ready.status_code == 503
    assert "disk space low" in ready.json()["checks"]["spool"]["detail"]


def test_refused_connections_are_recorded_rate_limited_and_counted(
    client: TestClient, audit: AuditLog, caplog: pytest.LogCaptureFixture
) -> None:
    recorder = ReceiveRecorder(audit, CompletionTracker(CompletionConfig()))
    start = datetime(2026, 12, 4, 12, 0, tzinfo=UTC).timestamp()
    flood = [
        ConnectionRefused("10.0.0.9", 4000 + n, "pdu_too_large", "claims 1 GiB", start + n)
        for n in range(30)
    ]
    later = ConnectionRefused("10.0.0.9", 5000, "pdu_too_large", "claims 1 GiB", start + 90)
    other = ConnectionRefused("10.0.0.9", 5001, "address_limit", "16 open", start + 1)
    with caplog.at_level(logging.WARNING, logger="dicomnode.intake.recorder"):
        recorder.record_batch(flood[:10])
        recorder.record_batch([*flood[10:], other, later])
    # One line per address, reason and 60 s window: 30 refusals within 30 s log once.
    assert len(caplog.records) == 3
    rows = audit_rows(audit)
    assert sorted(rows) == [
        ("10.0.0.9", "address_limit", 1),
        ("10.0.0.9", "pdu_too_large", 1),
        ("10.0.0.9", "pdu_too_large", 30),
    ]
    samples = _samples(client)
    assert samples[("dicomnode_connections_refused_total", (("reason", "pdu_too_large"),))] == 31
    assert samples[("dicomnode_connections_refused_total", (("reason", "address_limit"),))] == 1
    assert samples[("dicomnode_connections_refused_total", (("reason", "pdu_deadline"),))] == 0


def audit_rows(audit: AuditLog) -> list[tuple[str, str, int]]:
    """(address, reason, count) of every connection_refusals row."""
    with audit.engine.connect() as connection:
        return [
            (str(address), str(reason), int(count))
            for address, reason, count in connection.execute(
                text("SELECT peer_address, reason, count FROM connection_refusals")
            )
        ]
