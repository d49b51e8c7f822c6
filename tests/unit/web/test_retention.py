"""Spool retention: only processed studies past the retention time are deleted, recorded."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from web_testing import run_job, spooled_study

from dicomnode.audit.log import AuditLog
from dicomnode.intake.retention import RetentionLoop, SpoolRetention
from dicomnode.web.queries import DashboardQueries


def test_purge_deletes_only_processed_studies_past_retention(
    audit: AuditLog, tmp_path: Path
) -> None:
    spool = tmp_path / "spool"
    start = datetime(2026, 11, 1, 8, 0, tzinfo=UTC)
    now = {"t": start}
    log = AuditLog(audit.engine, max_job_attempts=1, clock=lambda: now["t"])
    studies = {
        "1.2.826.0.9.1": ("succeeded", "success"),  # processed and delivered: deleted
        "1.2.826.0.9.2": ("rejected", None),  # rejected, nothing to send: deleted
        "1.2.826.0.9.3": ("failed", None),  # dead-lettered: kept for a retry
        "1.2.826.0.9.4": ("succeeded", "transient"),  # result still pending: kept
    }
    for study_uid, (outcome, send) in studies.items():
        series = spooled_study(log, spool, study_uid)
        run_job(log, study_uid, series, outcome=outcome, send=send)
    now["t"] = start + timedelta(days=6)
    recent = spooled_study(log, spool, "1.2.826.0.9.5")
    run_job(log, "1.2.826.0.9.5", recent, outcome="succeeded", send="success")
    now["t"] = start + timedelta(days=10)
    retention = SpoolRetention(log, spool, retention_days=7, clock=lambda: now["t"])

    assert retention.due_studies() == ["1.2.826.0.9.1", "1.2.826.0.9.2"]
    purged = retention.purge()

    assert [(p.study_instance_uid, p.files, p.bytes) for p in purged] == [
        ("1.2.826.0.9.1", 2, 1000),
        ("1.2.826.0.9.2", 2, 1000),
    ]
    remaining = sorted(folder.name for folder in spool.iterdir())
    assert remaining == ["1.2.826.0.9.3", "1.2.826.0.9.4", "1.2.826.0.9.5"]
    known = log.known_instance_paths()
    assert known and not any("1.2.826.0.9.1/" in path for path in known)
    events = DashboardQueries(log.engine).service_events()
    events = [e for e in events if e.kind == "spool_retention"]
    assert sorted(e.detail for e in events) == [
        "study 1.2.826.0.9.1: 2 files, 1000 bytes deleted",
        "study 1.2.826.0.9.2: 2 files, 1000 bytes deleted",
    ]
    assert retention.purge() == []  # nothing left to do: idempotent


def test_retention_loop_purges_at_start_and_stops(audit: AuditLog, tmp_path: Path) -> None:
    spool = tmp_path / "spool"
    start = datetime(2026, 11, 1, 8, 0, tzinfo=UTC)
    log = AuditLog(audit.engine, max_job_attempts=1, clock=lambda: start)
    series = spooled_study(log, spool, "1.2.826.0.9.1")
    run_job(log, "1.2.826.0.9.1", series, outcome="succeeded", send="success")
    later = start + timedelta(days=30)
    loop = RetentionLoop(SpoolRetention(log, spool, 7, clock=lambda: later), interval_s=3600)
    loop.start()
    deadline = time.monotonic() + 30
    while (spool / "1.2.826.0.9.1").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    loop.stop()
    assert not (spool / "1.2.826.0.9.1").exists()
