"""A dashboard over an audit database filled by the real node parts: the SCP receives a
synthetic study from DCMTK storescu, the job runner runs the real pipeline on it (demo
model, CPU), and a second job fails through the runner; then the dashboard is served by
uvicorn (the service's WebServer loop) and driven with headless Chromium (Playwright).

The audit tests' fixtures (``audit`` on SQLite and PostgreSQL) are reused from
``tests/integration/audit/conftest.py`` for the queries that must work on both backends.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from dicomnode.audit.log import AuditLog
from dicomnode.audit.rows import JobState
from dicomnode.config import DicomNodeConfig
from dicomnode.scp.header import read_header
from dicomnode.web.app import create_app
from dicomnode.web.roles import Role
from dicomnode.web.server import WebServer
from dicomnode.web.users import UserStore
from pipeline.synth.study import write_study

# Appended, not prepended: other test folders import their own conftest by name. Spawned
# job workers inherit sys.path (failing_handler).
sys.path.append(str(Path(__file__).parent))

from dashboard_site import (
    CHROMIUM,
    PASSWORDS,
    PIPELINE_HANDLER,
    Site,
    add_maa_job,
    free_port,
    receive,
    run_until_final,
)


def _audit_fixtures() -> object:
    path = Path(__file__).parents[1] / "audit" / "conftest.py"
    spec = importlib.util.spec_from_file_location("audit_backend_fixtures", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


MAA_SEED = 1
"""Seed of the MAA study's synthetic patient (the site's own study is seed 0)."""

_backends = _audit_fixtures()
postgres_available = _backends.postgres_available  # type: ignore[attr-defined]
sqlite_template = _backends.sqlite_template  # type: ignore[attr-defined]
postgres_migrated = _backends.postgres_migrated  # type: ignore[attr-defined]
migrated_url = _backends.migrated_url  # type: ignore[attr-defined]
audit = _backends.audit  # type: ignore[attr-defined]


@pytest.fixture(scope="package")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """The dashboard served over a database with one pipeline job and one failed job."""
    root = tmp_path_factory.mktemp("dashboard")
    audit = AuditLog.from_url(f"sqlite:///{root / 'audit.sqlite3'}", max_job_attempts=1)
    audit.upgrade()
    write_study(root / "study", 0, "small", volumes=False)
    receive(audit, root / "spool", root / "study" / "dicom")
    first = next((root / "spool").rglob("*.dcm"))
    header = read_header(first)
    study_uid = header.study_instance_uid
    series = sorted({row.series_instance_uid for row in audit.study_instances(study_uid)})
    pipeline_job = audit.create_job(
        study_instance_uid=study_uid, series_instance_uids=series, calling_ae="DEMOSENDER"
    )
    run_until_final(audit, PIPELINE_HANDLER, root / "work", pipeline_job)
    failed_job = audit.create_job(
        study_instance_uid=study_uid, series_instance_uids=series[:1], calling_ae="DEMOSENDER"
    )
    run_until_final(audit, "failing_handler:run_job", root / "work", failed_job)
    assert audit.get_job(failed_job).job.state is JobState.DEAD_LETTERED
    users = UserStore(audit.engine)
    users.add("olivia", Role.OPERATOR, PASSWORDS["olivia"], by_user="test")
    users.add("victor", Role.VIEWER, PASSWORDS["victor"], by_user="test")
    users.add("paula", Role.PLANNER, PASSWORDS["paula"], by_user="test")
    config = DicomNodeConfig(spool={"path": str(root / "spool")}, web={"port": free_port()})
    server = WebServer(create_app(config, audit), config.web, audit)
    server.start()
    assert server.port is not None
    try:
        yield Site(
            f"http://127.0.0.1:{server.port}",
            audit,
            header.fields["PatientID"],
            pipeline_job,
            failed_job,
            root,
        )
    finally:
        server.stop()
        audit.dispose()


@pytest.fixture(scope="package")
def maa_job(site: Site) -> int:
    """A job of a Tc-99m MAA SPECT/CT study with its planning CT linked in, run by the real
    pipeline on the site (another patient than the site's other jobs)."""
    return add_maa_job(site, MAA_SEED)


@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    """Headless Chromium (the system's, no download)."""
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A fresh browser context (no cookies) and page."""
    context = browser.new_context(viewport={"width": 1300, "height": 900})
    yield context.new_page()
    context.close()

