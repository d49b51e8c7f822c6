"""``dicomnode db upgrade``, ``jobs``, ``job ID`` and ``retry ID`` on a real SQLite database."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

import dicomnode.cli  # noqa: F401  (registers every command)
from dicomnode.audit import migrate
from dicomnode.audit.log import AuditLog
from dicomnode.audit.rows import JobState
from dicomnode.cli.app import app


@pytest.fixture
def url(tmp_path: Path) -> str:
    """A database migrated through ``dicomnode db upgrade``."""
    url = f"sqlite:///{tmp_path / 'audit.sqlite3'}"
    result = CliRunner().invoke(app, ["db", "upgrade", "--db-url", url])
    assert result.exit_code == 0, result.output
    assert f"revision {migrate.head_revision()} (was empty)" in result.output
    return url


def _jobs(url: str) -> tuple[int, int]:
    audit = AuditLog.from_url(url, max_job_attempts=1)
    ids = []
    for number, patient in enumerate(("PID-1", "PID-2")):
        series = f"1.2.3.{number}"
        audit.record_instance(
            association_id=None,
            sop_instance_uid=f"{series}.1",
            sop_class_uid="1.2.840.10008.5.1.4.1.1.2",
            transfer_syntax_uid="1.2.840.10008.1.2.1",
            study_instance_uid=f"1.2.4.{number}",
            series_instance_uid=series,
            path="/spool/x.dcm",
            size_bytes=5,
            status="stored",
            reason=None,
            header={"PatientID": patient, "AccessionNumber": f"ACC{number}"},
        )
        ids.append(
            audit.create_job(
                study_instance_uid=f"1.2.4.{number}",
                series_instance_uids=[series],
                calling_ae="PACS",
            )
        )
    audit.claim_next_job("node/1")
    audit.finish_job(ids[0], state="failed", reason="worker process killed by SIGKILL")
    audit.dispose()
    return ids[0], ids[1]


def test_jobs_job_and_retry(url: str) -> None:
    dead, queued = _jobs(url)
    runner = CliRunner()
    listed = runner.invoke(app, ["jobs", "--db-url", url, "--state", "dead_lettered"])
    assert listed.exit_code == 0, listed.output
    assert "PID-1" in listed.output and "PID-2" not in listed.output
    by_patient = runner.invoke(app, ["jobs", "--db-url", url, "--patient-id", "PID-2"])
    assert "PID-2" in by_patient.output and "PID-1" not in by_patient.output

    shown = runner.invoke(app, ["job", str(dead), "--db-url", url])
    assert shown.exit_code == 0, shown.output
    for text in ("dead_lettered", "SIGKILL", "claimed", "1.2.3.0", "Deliveries"):
        assert text in shown.output
    assert runner.invoke(app, ["job", "999", "--db-url", url]).exit_code == 1

    retried = runner.invoke(app, ["retry", str(dead), "--db-url", url, "--user", "alice"])
    assert retried.exit_code == 0, retried.output
    assert f"job {dead} requeued (was dead_lettered)" in retried.output
    nothing = runner.invoke(app, ["retry", str(queued), "--db-url", url])
    assert nothing.exit_code == 1
    assert "nothing to retry" in nothing.output

    audit = AuditLog.from_url(url)
    detail = audit.get_job(dead)
    audit.dispose()
    assert detail.job.state is JobState.QUEUED
    assert [(a.user, a.action) for a in detail.admin_actions] == [("alice", "retry")]


def test_bad_state_is_a_usage_error(url: str) -> None:
    result = CliRunner().invoke(app, ["jobs", "--db-url", url, "--state", "sleeping"])
    assert result.exit_code == 2


def test_commands_need_a_migrated_database(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'empty.sqlite3'}"
    result = CliRunner().invoke(app, ["jobs", "--db-url", url])
    assert result.exit_code == 1
    assert "dicomnode db upgrade" in result.output
