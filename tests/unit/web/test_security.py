"""Dashboard hygiene: forwarding headers only from trusted proxies, sessions revoked at logout
and password change, security headers, bad query input answered 4xx."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError
from starlette.requests import Request
from web_testing import PASSWORDS, csrf_of, failed_job, log_in

from dicomnode.audit.log import AuditLog
from dicomnode.config import DicomNodeConfig
from dicomnode.web.app import SESSION_COOKIE, create_app
from dicomnode.web.config import WebConfig
from dicomnode.web.headers import CONTENT_SECURITY_POLICY
from dicomnode.web.proxies import TrustedProxies
from dicomnode.web.users import UnknownUserError, UserStore


def _request(peer: str, *forwarded_for: str) -> Request:
    headers = [(b"x-forwarded-for", value.encode()) for value in forwarded_for]
    return Request({"type": "http", "client": (peer, 5000), "headers": headers})


def test_forwarded_for_is_believed_only_from_trusted_proxies() -> None:
    proxies = TrustedProxies(["10.0.0.0/24", "::1"])
    assert proxies.client_address(_request("192.0.2.1", "198.51.100.9")) == "192.0.2.1"
    assert proxies.client_address(_request("10.0.0.5")) == "10.0.0.5"
    # the client wrote 198.51.100.9; the proxy 10.0.0.5 appended the peer it saw
    assert proxies.client_address(_request("10.0.0.5", "198.51.100.9, 203.0.113.4")) == (
        "203.0.113.4"
    )
    # two trusted proxies in a row; several headers are one list
    assert proxies.client_address(
        _request("::1", "198.51.100.9, 203.0.113.4", "10.0.0.7")
    ) == "203.0.113.4"
    assert proxies.client_address(_request("10.0.0.5", "10.0.0.8, 10.0.0.7")) == "10.0.0.8"
    assert TrustedProxies([]).client_address(_request("127.0.0.1", "203.0.113.4")) == (
        "127.0.0.1"
    )


def test_recorded_address_ignores_forwarded_for_from_an_untrusted_peer(
    audit: AuditLog, make_config: Callable[..., DicomNodeConfig]
) -> None:
    for trusted, recorded in (([], "10.9.8.7"), (["10.9.8.0/24"], "203.0.113.4")):
        app = create_app(make_config(web={"trusted_proxies": trusted}), audit)
        client = TestClient(app, client=("10.9.8.7", 40000), follow_redirects=False)
        token = csrf_of(client.get("/login").text)
        client.post("/login", data={"csrf_token": token, "username": "olivia",
                                    "password": "guess-guess"},
                    headers={"X-Forwarded-For": "203.0.113.4"})
        assert audit.admin_actions(limit=1)[0].detail == f"from {recorded}"


def test_proxy_header_mode_needs_trusted_proxies() -> None:
    with pytest.raises(ValidationError, match="trusted_proxies"):
        WebConfig(auth_mode="proxy_header")


def test_a_cookie_is_refused_after_logout(client: TestClient, audit: AuditLog) -> None:
    log_in(client, "victor")
    stolen = client.cookies[SESSION_COOKIE]
    token = csrf_of(client.get("/").text)
    assert client.post("/logout", data={"csrf_token": token}).status_code == 303
    client.cookies.set(SESSION_COOKIE, stolen)
    for path in ("/", "/jobs", "/plots/jobs-per-hour.svg"):
        assert client.get(path).headers["location"].startswith("/login?next="), path
    log_in(client, "victor")  # a new login works
    assert client.get("/").status_code == 200


def test_a_password_change_ends_the_sessions(client: TestClient, audit: AuditLog) -> None:
    users = UserStore(audit.engine)
    log_in(client, "olivia")
    other = TestClient(client.app, follow_redirects=False)
    log_in(other, "olivia")
    users.set_password("olivia", "a-new-password", by_user="test")
    assert client.get("/").status_code == 303
    assert other.get("/").status_code == 303
    token = csrf_of(client.get("/login").text)
    old = client.post("/login", data={"csrf_token": token, "username": "olivia",
                                      "password": PASSWORDS["olivia"]})
    assert old.status_code == 401
    latest = audit.admin_actions(limit=2)
    assert ("password_change", "web_user:olivia") in {(a.action, a.target) for a in latest}
    with pytest.raises(UnknownUserError):
        users.set_password("nobody", "a-new-password", by_user="test")


def test_security_headers(client: TestClient) -> None:
    anonymous = client.get("/login")
    log_in(client, "victor")
    for response in (anonymous, client.get("/"), client.get("/jobs/424242"),
                     client.get("/plots/processing-time.svg")):
        assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
        assert response.headers["x-frame-options"] == "DENY"
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["referrer-policy"] == "no-referrer"
        assert response.headers["cache-control"] == "no-store"
    style = client.get("/static/dashboard.css")
    assert style.status_code == 200 and "header{" in style.text
    assert "no-store" not in style.headers.get("cache-control", "")
    page = client.get("/").text
    assert "<style" not in page and "<script" not in page and " style=" not in page


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("/jobs?date_to=9999-12-31", None),
        ("/jobs?date_from=9999-12-31&date_to=9999-12-31", None),
        ("/jobs?date_from=0001-01-01", None),
        ("/jobs?date_to=2024-02-30", "not a date"),
        ("/jobs?date_from=yesterday", "not a date"),
        ("/jobs?limit=-5", "limit: Input should be greater than or equal to 1"),
        ("/jobs?limit=99999999999999999999", "limit: Input should be less than or equal"),
        ("/jobs?limit=many", "limit: Input should be a valid integer"),
        ("/jobs?state=exploded", "unknown job state"),
        ("/jobs?patient_id=PAT%00-7", "Patient ID: control characters"),
        ("/jobs?study_uid=" + "1" * 300, "Study Instance UID: at most"),
        ("/jobs/0", "job_id: Input should be greater than or equal to 1"),
        ("/jobs/9223372036854775808", "job_id: Input should be less than or equal"),
        ("/jobs/-3", "job_id: Input should be greater than or equal to 1"),
    ],
)
def test_bad_query_input_is_a_client_error(
    client: TestClient, audit: AuditLog, path: str, message: str | None
) -> None:
    failed_job(audit)
    log_in(client, "victor")
    response = client.get(path)
    if message is None:
        assert response.status_code == 200
    else:
        assert response.status_code == 422
        assert message in response.text


def test_actions_on_out_of_range_job_ids_are_client_errors(
    client: TestClient, audit: AuditLog
) -> None:
    job_id = failed_job(audit)
    log_in(client, "olivia")
    token = csrf_of(client.get(f"/jobs/{job_id}").text)
    for action in ("retry", "cancel"):
        response = client.post(f"/jobs/{2**63}/{action}", data={"csrf_token": token})
        assert response.status_code == 422
        assert "job_id: Input should be less than or equal" in response.text
