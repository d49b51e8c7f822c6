"""A dashboard over an audit database filled by the real node parts: the SCP receives a
synthetic study from DCMTK storescu, the job runner runs the real pipeline on it (demo
model, CPU), and a second job fails through the runner; then the dashboard is served by
uvicorn (the service's WebServer loop) and driven with headless Chromium (Playwright).

The audit tests' fixtures (``audit`` on SQLite and PostgreSQL) are reused from
``tests/integration/audit/conftest.py`` for the queries that must work on both backends.
"""

from __future__ import annotations

import importlib.util
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Browser, sync_playwright

from dicomnode.audit.log import AuditLog
from dicomnode.audit.rows import JobState
from dicomnode.completion import CompletionConfig, CompletionTracker
from dicomnode.config import DicomNodeConfig
from dicomnode.jobs.config import JobsConfig
from dicomnode.jobs.local import LocalJobRunner
from dicomnode.scp.config import ScpConfig
from dicomnode.scp.header import read_header
from dicomnode.scp.recorder import ReceiveRecorder
from dicomnode.scp.server import start_scp
from dicomnode.scp.spool import SpoolWriter
from dicomnode.web.app import create_app
from dicomnode.web.roles import Role
from dicomnode.web.server import WebServer
from dicomnode.web.users import UserStore
from pipeline.synth.study import write_study

sys.path.insert(0, str(Path(__file__).parent))  # spawned job workers inherit sys.path


def _audit_fixtures() -> object:
    path = Path(__file__).parents[1] / "audit" / "conftest.py"
    spec = importlib.util.spec_from_file_location("audit_backend_fixtures", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_backends = _audit_fixtures()
postgres_available = _backends.postgres_available  # type: ignore[attr-defined]
sqlite_template = _backends.sqlite_template  # type: ignore[attr-defined]
postgres_migrated = _backends.postgres_migrated  # type: ignore[attr-defined]
migrated_url = _backends.migrated_url  # type: ignore[attr-defined]
clock = _backends.clock  # type: ignore[attr-defined]
audit = _backends.audit  # type: ignore[attr-defined]

CHROMIUM = "/usr/bin/chromium"
STORESCU = "/usr/bin/storescu"
"""DCMTK storescu (the venv also has pynetdicom's storescu on PATH)."""
PASSWORDS = {"olivia": "operator-password", "victor": "viewer-password"}
JOB_TIMEOUT_S = 400.0


@dataclass(frozen=True)
class Site:
    """The served dashboard and what is in its database."""

    base_url: str
    audit: AuditLog
    patient_id: str
    pipeline_job: int
    failed_job: int


class _RecordingSink:
    def __init__(self, audit: AuditLog) -> None:
        self._recorder = ReceiveRecorder(audit, CompletionTracker(CompletionConfig()))

    def publish(self, event: object) -> None:
        self._recorder.record(event)  # type: ignore[arg-type]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _receive(audit: AuditLog, spool: Path, dicom: Path) -> None:
    """Send every file of ``dicom`` to the real SCP with storescu (one association)."""
    scp = ScpConfig(port=_free_port())
    running = start_scp(scp, SpoolWriter(spool), _RecordingSink(audit), reuse_port=False)
    try:
        subprocess.run(
            [STORESCU, "-aet", "DEMOSENDER", "-aec", "DICOMNODE", "-nh", "+sd", "+r", "127.0.0.1",
             str(scp.port), str(dicom)],
            check=True, capture_output=True, timeout=120, env=dict(os.environ, TCP_NODELAY="1"),
        )
    finally:
        running.stop()


def _run(audit: AuditLog, handler: str, work: Path, job_id: int) -> None:
    """Run the job runner with ``handler`` until ``job_id`` is final."""
    config = JobsConfig(handler=handler, workers=1, work_dir=work, poll_interval_s=0.2,
                        max_attempts=1)
    runner = LocalJobRunner(config, audit)
    runner.start()
    try:
        deadline = time.monotonic() + JOB_TIMEOUT_S
        while not audit.get_job(job_id).job.state.final:
            assert time.monotonic() < deadline, "the job did not finish in time"
            time.sleep(0.5)
    finally:
        runner.stop()


@pytest.fixture(scope="package")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """The dashboard served over a database with one pipeline job and one failed job."""
    root = tmp_path_factory.mktemp("dashboard")
    audit = AuditLog.from_url(f"sqlite:///{root / 'audit.sqlite3'}", max_job_attempts=1)
    audit.upgrade()
    write_study(root / "study", 0, "small", volumes=False)
    _receive(audit, root / "spool", root / "study" / "dicom")
    first = next((root / "spool").rglob("*.dcm"))
    header = read_header(first)
    study_uid = header.study_instance_uid
    series = sorted({row.series_instance_uid for row in audit.study_instances(study_uid)})
    pipeline_job = audit.create_job(study_instance_uid=study_uid, series_instance_uids=series,
                                    calling_ae="DEMOSENDER")
    _run(audit, "dicomnode.pipeline_job:run_job", root / "work", pipeline_job)
    failed_job = audit.create_job(study_instance_uid=study_uid, series_instance_uids=series[:1],
                                  calling_ae="DEMOSENDER")
    _run(audit, "failing_handler:run_job", root / "work", failed_job)
    assert audit.get_job(failed_job).job.state is JobState.DEAD_LETTERED
    users = UserStore(audit.engine)
    users.add("olivia", Role.OPERATOR, PASSWORDS["olivia"], by_user="test")
    users.add("victor", Role.VIEWER, PASSWORDS["victor"], by_user="test")
    config = DicomNodeConfig(spool={"path": str(root / "spool")}, web={"port": _free_port()})
    server = WebServer(create_app(config, audit), config.web, audit)
    server.start()
    assert server.port is not None
    try:
        yield Site(f"http://127.0.0.1:{server.port}", audit, header.fields["PatientID"],
                   pipeline_job, failed_job)
    finally:
        server.stop()
        audit.dispose()


@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    """Headless Chromium (the system's, no download)."""
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield chromium
        chromium.close()
