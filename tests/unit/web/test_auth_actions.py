"""Login, roles and CSRF on the dashboard; every action lands in the audit database."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient
from web_testing import PASSWORDS, csrf_of, failed_job, log_in

from dicomnode.audit.log import AuditLog
from dicomnode.audit.rows import JobState
from dicomnode.config import DicomNodeConfig
from dicomnode.web.app import create_app


def test_anonymous_pages_redirect_to_login_with_the_target(client: TestClient) -> None:
    for path in ("/", "/jobs", "/jobs/1", "/config", "/plots/jobs-per-hour.svg"):
        response = client.get(path)
        assert response.status_code == 303, path
        assert response.headers["location"].startswith("/login?next=")
    assert client.get("/jobs?state=failed").headers["location"] == (
        "/login?next=%2Fjobs%3Fstate%3Dfailed"
    )


def test_anonymous_post_is_refused(client: TestClient, audit: AuditLog) -> None:
    job_id = failed_job(audit)
    response = client.post(f"/jobs/{job_id}/retry", data={"csrf_token": "x"})
    assert response.status_code == 303
    assert audit.get_job(job_id).job.state is JobState.DEAD_LETTERED


def test_wrong_password_is_refused_and_recorded(client: TestClient, audit: AuditLog) -> None:
    token = csrf_of(client.get("/login").text)
    response = client.post(
        "/login", data={"csrf_token": token, "username": "olivia", "password": "guess-guess"}
    )
    assert response.status_code == 401
    assert client.get("/").status_code == 303
    latest = audit.admin_actions(limit=1)[0]
    assert (latest.user, latest.action, latest.target) == ("olivia", "login_failed", "web")


def test_login_without_csrf_token_is_refused(client: TestClient) -> None:
    client.get("/login")
    response = client.post(
        "/login", data={"csrf_token": "forged", "username": "olivia",
                        "password": PASSWORDS["olivia"]},
    )
    assert response.status_code == 403
    assert client.get("/").status_code == 303


def test_login_is_recorded_and_opens_the_pages(client: TestClient, audit: AuditLog) -> None:
    log_in(client, "victor")
    latest = audit.admin_actions(limit=1)[0]
    assert (latest.user, latest.action) == ("victor", "login")
    for path in ("/", "/jobs", "/config"):
        response = client.get(path)
        assert response.status_code == 200, path
        assert "victor (viewer)" in response.text


def test_next_parameter_cannot_redirect_off_site(client: TestClient) -> None:
    token = csrf_of(client.get("/login").text)
    response = client.post(
        "/login",
        data={"csrf_token": token, "username": "victor", "password": PASSWORDS["victor"],
              "next": "https://evil.example/"},
    )
    assert response.headers["location"] == "/"


def test_viewer_cannot_retry_or_cancel(client: TestClient, audit: AuditLog) -> None:
    job_id = failed_job(audit)
    log_in(client, "victor")
    page = client.get(f"/jobs/{job_id}")
    assert page.status_code == 200
    assert 'id="retry"' not in page.text
    token = csrf_of(page.text)
    for action in ("retry", "cancel"):
        response = client.post(f"/jobs/{job_id}/{action}", data={"csrf_token": token})
        assert response.status_code == 403
    assert audit.get_job(job_id).job.state is JobState.DEAD_LETTERED


def test_operator_retry_needs_the_csrf_token(client: TestClient, audit: AuditLog) -> None:
    job_id = failed_job(audit)
    log_in(client, "olivia")
    response = client.post(f"/jobs/{job_id}/retry", data={"csrf_token": "forged"})
    assert response.status_code == 403
    response = client.post(f"/jobs/{job_id}/retry", data={})
    assert response.status_code == 422
    assert audit.get_job(job_id).job.state is JobState.DEAD_LETTERED


def test_operator_retry_then_cancel_are_recorded(client: TestClient, audit: AuditLog) -> None:
    job_id = failed_job(audit)
    log_in(client, "olivia")
    page = client.get(f"/jobs/{job_id}")
    assert 'id="retry"' in page.text and 'id="cancel"' not in page.text
    response = client.post(f"/jobs/{job_id}/retry", data={"csrf_token": csrf_of(page.text)})
    assert (response.status_code, response.headers["location"]) == (303, f"/jobs/{job_id}")
    assert audit.get_job(job_id).job.state is JobState.QUEUED
    page = client.get(f"/jobs/{job_id}")
    assert "requeued (was dead_lettered)" in page.text
    response = client.post(f"/jobs/{job_id}/cancel", data={"csrf_token": csrf_of(page.text)})
    assert response.status_code == 303
    detail = audit.get_job(job_id)
    assert detail.job.state is JobState.CANCELLED
    assert [(a.user, a.action) for a in detail.admin_actions] == [
        ("olivia", "retry"),
        ("olivia", "cancel"),
    ]


def test_logout_ends_the_session(client: TestClient, audit: AuditLog) -> None:
    log_in(client, "victor")
    token = csrf_of(client.get("/").text)
    assert client.post("/logout", data={"csrf_token": token}).status_code == 303
    assert audit.admin_actions(limit=1)[0].action == "logout"
    assert client.get("/").status_code == 303


def test_proxy_header_mode_trusts_only_listed_proxies(
    audit: AuditLog, make_config: Callable[..., DicomNodeConfig]
) -> None:
    job_id = failed_job(audit)
    config = make_config(web={"auth_mode": "proxy_header", "trusted_proxies": ["127.0.0.1/32"]})
    app = create_app(config, audit)
    proxy = TestClient(app, client=("127.0.0.1", 40000), follow_redirects=False)
    page = proxy.get(f"/jobs/{job_id}", headers={"X-Forwarded-User": "olivia"})
    assert page.status_code == 200
    assert "olivia (operator)" in page.text and 'id="retry"' in page.text
    stranger = proxy.get("/", headers={"X-Forwarded-User": "mallory"})
    assert "mallory (viewer)" in stranger.text
    assert proxy.get("/").status_code == 401
    elsewhere = TestClient(app, client=("10.9.8.7", 40000), follow_redirects=False)
    assert elsewhere.get("/", headers={"X-Forwarded-User": "olivia"}).status_code == 401
    assert proxy.get("/login").status_code == 404


def _try(client: TestClient, name: str, password: str) -> int:
    token = csrf_of(client.get("/login").text)
    return client.post("/login", data={"csrf_token": token, "username": name,
                                       "password": password}).status_code


def test_repeated_failed_logins_block_the_user_name(
    audit: AuditLog, make_config: Callable[..., DicomNodeConfig]
) -> None:
    client = TestClient(create_app(make_config(web={"login_max_failures": 3}), audit),
                        follow_redirects=False)
    assert [_try(client, "olivia", "guess-guess") for _ in range(3)] == [401, 401, 401]
    # blocked now, even with the right password, and recorded
    assert _try(client, "olivia", PASSWORDS["olivia"]) == 429
    latest = audit.admin_actions(limit=1)[0]
    assert (latest.user, latest.action) == ("olivia", "login_blocked")
    assert client.get("/").status_code == 303
    # the address is blocked too (3 failures from it)
    assert _try(client, "victor", PASSWORDS["victor"]) == 429


def test_session_cookie_secure_flag(
    audit: AuditLog, make_config: Callable[..., DicomNodeConfig]
) -> None:
    for secure in (False, True):
        config = make_config(web={"session_cookie_secure": secure})
        client = TestClient(create_app(config, audit), follow_redirects=False,
                            base_url="https://testserver")
        cookie = client.get("/login").headers["set-cookie"]
        assert ("secure" in cookie.lower()) is secure
