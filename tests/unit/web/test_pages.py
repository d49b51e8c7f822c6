"""Dashboard pages with a logged-in viewer: search, overview, configuration, plots."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from web_testing import failed_job, log_in, run_job, spooled_study

from dicomnode.audit.log import AuditLog
from dicomnode.config import DicomNodeConfig
from dicomnode.web.app import create_app


def _job_ids(html: str) -> list[int]:
    import re

    return [int(found) for found in re.findall(r'<a href="/jobs/(\d+)">', html)]


def test_job_search_filters(client: TestClient, audit: AuditLog, tmp_path: Path) -> None:
    failed = failed_job(audit)
    series = spooled_study(audit, tmp_path / "spool", "1.2.826.0.9.1")
    done = run_job(audit, "1.2.826.0.9.1", series, outcome="succeeded", send="success")
    log_in(client, "victor")
    assert _job_ids(client.get("/jobs").text) == [done, failed]
    assert _job_ids(client.get("/jobs?patient_id=PAT-7").text) == [failed]
    assert _job_ids(client.get("/jobs?accession=ACC-7&state=dead_lettered").text) == [failed]
    assert _job_ids(client.get("/jobs?state=succeeded").text) == [done]
    assert _job_ids(client.get("/jobs?study_uid=1.2.826.0.9.1").text) == [done]
    today = client.get("/jobs?date_from=2000-01-01&date_to=2999-12-31")
    assert _job_ids(today.text) == [done, failed]
    assert _job_ids(client.get("/jobs?date_to=2000-01-01").text) == []
    assert client.get("/jobs?state=bogus").status_code == 422
    assert client.get("/jobs?date_from=yesterday").status_code == 422
    assert client.get("/jobs/999").status_code == 404


def test_job_page_shows_the_audit_chain(
    client: TestClient, audit: AuditLog, tmp_path: Path
) -> None:
    series = spooled_study(audit, tmp_path / "spool", "1.2.826.0.9.1")
    job_id = run_job(audit, "1.2.826.0.9.1", series, outcome="succeeded", send="permanent")
    log_in(client, "victor")
    page = client.get(f"/jobs/{job_id}").text
    assert "1.2.826.0.9.1.1" in page  # input series
    assert "1.2.826.0.9.1.99" in page  # output SOP Instance UID
    assert "dead_lettered" in page and "permanent" in page  # the delivery and its attempt
    assert "Demo model" not in page  # no model result in this job


def test_overview_lists_rejections_and_states(client: TestClient, audit: AuditLog) -> None:
    failed_job(audit)
    audit.reject_association(
        calling_ae="NOBODY", called_ae="DICOMNODE", peer_address="10.0.0.9", peer_port=4001,
        reason="calling AE title 'NOBODY' is not in the allow-list",
    )
    audit.record_service_event("start", "config sha256=abc")
    log_in(client, "victor")
    page = client.get("/").text
    assert "not in the allow-list" in page
    assert "running" in page
    assert '<a href="/jobs?state=dead_lettered">dead_lettered</a>' in page
    assert "Demo model — not for clinical use" in page  # the bundled model's status


def test_plots_are_svg(client: TestClient, audit: AuditLog, tmp_path: Path) -> None:
    series = spooled_study(audit, tmp_path / "spool", "1.2.826.0.9.1")
    run_job(audit, "1.2.826.0.9.1", series, outcome="succeeded", send="transient")
    log_in(client, "victor")
    for name in ("jobs-per-hour", "processing-time", "delivery-failures"):
        response = client.get(f"/plots/{name}.svg")
        assert response.status_code == 200
        assert response.headers["content-type"] == "image/svg+xml"
        assert b"<svg" in response.content


def test_delivery_failures_metric(client: TestClient, audit: AuditLog, tmp_path: Path) -> None:
    series = spooled_study(audit, tmp_path / "spool", "1.2.826.0.9.1")
    run_job(audit, "1.2.826.0.9.1", series, outcome="succeeded", send="transient")
    families = {f.name: f for f in text_string_to_metric_families(client.get("/metrics").text)}
    failures = {
        (s.labels["destination"], s.labels["status"]): s.value
        for s in families["dicomnode_delivery_failures"].samples
    }
    assert failures == {("pacs", "transient"): 1.0}
    states = {s.labels["state"]: s.value for s in families["dicomnode_deliveries"].samples}
    assert states == {"pending": 1.0, "delivered": 0.0, "dead_lettered": 0.0}


def test_config_page_masks_secrets(
    audit: AuditLog, make_config: Callable[..., DicomNodeConfig]
) -> None:
    config = make_config(
        web={"session_secret": "do-not-show-me"},
        audit={"url": "postgresql+psycopg://node:hunter2-db@db.example:5432/audit"},
    )
    client = TestClient(create_app(config, audit), follow_redirects=False)
    log_in(client, "victor")
    page = client.get("/config").text
    assert "do-not-show-me" not in page and "hunter2-db" not in page
    assert "session_secret: &#39;**********&#39;" in page
    assert "node:**********@db.example" in page


def test_plots_render_without_data(client: TestClient) -> None:
    log_in(client, "victor")
    for name in ("jobs-per-hour", "processing-time", "delivery-failures"):
        response = client.get(f"/plots/{name}.svg")
        assert response.status_code == 200 and b"<svg" in response.content
