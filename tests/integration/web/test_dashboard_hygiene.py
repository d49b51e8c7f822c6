"""The served dashboard (uvicorn, as in the service) believes X-Forwarded-For only from its
trusted proxies, refuses a session cookie after logout, and its pages load under their
Content-Security-Policy in headless Chromium."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from dashboard_site import PASSWORDS, Site, free_port
from playwright.sync_api import Browser, expect

from dicomnode.audit.log import AuditLog
from dicomnode.config import DicomNodeConfig
from dicomnode.web.app import SESSION_COOKIE, create_app
from dicomnode.web.headers import CONTENT_SECURITY_POLICY
from dicomnode.web.roles import Role
from dicomnode.web.server import WebServer
from dicomnode.web.users import UserStore


class Dashboards:
    """Serves dashboards over one fresh audit database holding the user olivia."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.audit = AuditLog.from_url(f"sqlite:///{root / 'audit.sqlite3'}")
        self.audit.upgrade()
        UserStore(self.audit.engine).add("olivia", Role.OPERATOR, PASSWORDS["olivia"],
                                         by_user="test")
        self.servers: list[WebServer] = []

    def serve(self, **web: Any) -> str:
        """Serve one with these ``web:`` settings; returns its base URL."""
        config = DicomNodeConfig(spool={"path": str(self.root / "spool")},
                                 web={"port": free_port(), **web})
        server = WebServer(create_app(config, self.audit), config.web, self.audit)
        server.start()
        self.servers.append(server)
        return f"http://127.0.0.1:{server.port}"

    def close(self) -> None:
        for server in self.servers:
            server.stop()
        self.audit.dispose()


@pytest.fixture
def dashboards(tmp_path: Path) -> Iterator[Dashboards]:
    """Dashboards served by uvicorn, stopped after the test."""
    served = Dashboards(tmp_path)
    yield served
    served.close()


def _fail_login(base: str, name: str, forwarded_for: str) -> int:
    session = requests.Session()
    found = re.search(r'name="csrf_token" value="([^"]+)"',
                      session.get(f"{base}/login", timeout=10).text)
    assert found is not None
    token = found.group(1)
    response = session.post(
        f"{base}/login", data={"csrf_token": token, "username": name, "password": "guess-it"},
        headers={"X-Forwarded-For": forwarded_for}, timeout=10, allow_redirects=False,
    )
    return response.status_code


def test_forged_forwarded_for_neither_evades_the_lockout_nor_is_recorded(
    dashboards: Dashboards,
) -> None:
    base, audit = dashboards.serve(login_max_failures=3), dashboards.audit
    codes = [_fail_login(base, f"user{n}", f"198.51.100.{n}") for n in range(4)]
    assert codes == [401, 401, 401, 429]  # the address 127.0.0.1 is blocked
    recorded = [a.detail for a in audit.admin_actions(limit=4)]
    assert recorded[0] is not None and recorded[0].startswith("from 127.0.0.1;")
    assert recorded[1:] == ["from 127.0.0.1"] * 3


def test_forwarded_for_from_a_trusted_proxy_names_the_client(dashboards: Dashboards) -> None:
    base, audit = dashboards.serve(trusted_proxies=["127.0.0.1/32"]), dashboards.audit
    # the client wrote 192.0.2.66; the proxy on 127.0.0.1 appended the peer it saw
    assert _fail_login(base, "olivia", "192.0.2.66, 203.0.113.4") == 401
    assert audit.admin_actions(limit=1)[0].detail == "from 203.0.113.4"


def test_security_headers_over_http(dashboards: Dashboards) -> None:
    base = dashboards.serve()
    for path in ("/login", "/health", "/jobs"):
        headers = requests.get(f"{base}{path}", timeout=10, allow_redirects=False).headers
        assert headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY, path
        assert headers["X-Frame-Options"] == "DENY"
        assert headers["Cache-Control"] == "no-store"


@pytest.mark.slow  # the site runs the real pipeline once (~70 s on 2 idle cores)
def test_pages_load_under_the_csp_and_a_cookie_dies_with_logout(
    browser: Browser, site: Site
) -> None:
    UserStore(site.audit.engine).add("lena", Role.VIEWER, "lena-password", by_user="test")
    context = browser.new_context(viewport={"width": 1300, "height": 900})
    page = context.new_page()
    violations: list[str] = []
    page.on("console", lambda message: violations.append(message.text)
            if "Content Security Policy" in message.text else None)
    page.goto(f"{site.base_url}/login")
    page.fill("input[name=username]", "lena")
    page.fill("input[name=password]", "lena-password")
    page.click("button[type=submit]")
    expect(page.locator("header .who")).to_contain_text("lena")
    # the style sheet applies; the plots (SVG images) load
    header_colour = page.eval_on_selector("header", "e => getComputedStyle(e).backgroundColor")
    assert header_colour == "rgb(31, 58, 95)"
    page.wait_for_load_state("load")
    widths = page.eval_on_selector_all("img.plot", "images => images.map(i => i.naturalWidth)")
    assert len(widths) == 3 and all(w > 0 for w in widths)
    page.goto(f"{site.base_url}/jobs/{site.pipeline_job}")
    expect(page.locator("#job-state")).to_have_text("succeeded")
    assert violations == []
    (cookie,) = [c for c in context.cookies() if c["name"] == SESSION_COOKIE]
    page.click("header button[type=submit]")  # log out
    expect(page.locator("input[name=username]")).to_be_visible()
    replay = browser.new_context()
    replay.add_cookies([cookie])  # type: ignore[list-item]
    stale = replay.new_page()
    stale.goto(f"{site.base_url}/jobs/{site.pipeline_job}")
    assert stale.url.startswith(f"{site.base_url}/login?next=")
    replay.close()
    context.close()
