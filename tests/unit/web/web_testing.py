"""Helpers shared by the dashboard unit tests (imported by their conftest and tests)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

from fastapi.testclient import TestClient

from dicomnode.audit.log import AuditLog

RETRY_LATER = datetime(2100, 1, 1, tzinfo=UTC)
"""A next attempt far in the future: the delivery stays pending."""
SR_STORAGE = "1.2.840.10008.5.1.4.1.1.88.33"
PASSWORDS = {"olivia": "operator-password", "victor": "viewer-password"}
"""Test users: olivia is an operator, victor a viewer."""


def csrf_of(html: str) -> str:
    """The CSRF token in a page's form."""
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found is not None, "the page has no CSRF token"
    return found.group(1)


def log_in(client: TestClient, name: str) -> None:
    """Log in through the form as a test user."""
    token = csrf_of(client.get("/login").text)
    response = client.post(
        "/login",
        data={"csrf_token": token, "username": name, "password": PASSWORDS[name], "next": "/"},
    )
    assert response.status_code == 303, response.text


def failed_job(audit: AuditLog, series_uid: str = "1.2.826.0.1.7.1") -> int:
    """A job whose only attempt failed (dead-lettered: 1 attempt per job)."""
    audit.record_instance(
        association_id=None,
        sop_instance_uid=f"{series_uid}.1",
        sop_class_uid="1.2.840.10008.5.1.4.1.1.2",
        transfer_syntax_uid="1.2.840.10008.1.2.1",
        study_instance_uid="1.2.826.0.1.7",
        series_instance_uid=series_uid,
        path=None,
        size_bytes=1000,
        status="stored",
        reason=None,
        header={"PatientID": "PAT-7", "AccessionNumber": "ACC-7"},
    )
    job_id = audit.create_job(
        study_instance_uid="1.2.826.0.1.7", series_instance_uids=[series_uid], calling_ae="PACS"
    )
    claimed = audit.claim_next_job("test/1")
    assert claimed is not None and claimed.id == job_id
    audit.finish_job(job_id, state="failed", reason="RuntimeError: synthetic failure")
    return job_id


def spooled_study(audit: AuditLog, spool: Path, study_uid: str, files: int = 2) -> list[str]:
    """Write ``files`` instances of one series of a study into the spool and record them;
    returns the series UID list."""
    series_uid = f"{study_uid}.1"
    folder = spool / study_uid / series_uid
    folder.mkdir(parents=True)
    for number in range(files):
        path = folder / f"{series_uid}.{number}.dcm"
        path.write_bytes(b"\0" * 500)
        audit.record_instance(
            association_id=None, sop_instance_uid=f"{series_uid}.{number}",
            sop_class_uid="1.2.840.10008.5.1.4.1.1.2",
            transfer_syntax_uid="1.2.840.10008.1.2.1", study_instance_uid=study_uid,
            series_instance_uid=series_uid, path=str(path), size_bytes=500, status="stored",
            reason=None, header={"PatientID": f"PAT-{study_uid[-1]}"},
        )
    return [series_uid]


def run_job(
    audit: AuditLog, study_uid: str, series: list[str], *, outcome: str, send: str | None
) -> int:
    """Create, claim and finish a job; with ``send`` its one output gets one delivery
    attempt of that status ("success", "transient" or "permanent") to destination "pacs"."""
    job_id = audit.create_job(study_instance_uid=study_uid, series_instance_uids=series,
                              calling_ae="PACS")
    claimed = audit.claim_next_job("test/1")
    assert claimed is not None and claimed.id == job_id
    audit.record_output(job_id, path=f"/results/{job_id}/sr.dcm",
                        sop_instance_uid=f"{study_uid}.99", sop_class_uid=SR_STORAGE,
                        kind="SR")
    audit.finish_job(job_id, state=outcome, reason=None if outcome == "succeeded" else "test")
    if send is not None:
        audit.plan_deliveries(job_id, destinations=["pacs"])
        (delivery,) = audit.pending_deliveries()
        audit.record_delivery(delivery.id, status=send, dimse_status=None, detail="test",
                              next_attempt_at=RETRY_LATER if send == "transient" else None)
    return job_id
