"""Builds the dashboard test site: a synthetic study received by the real SCP from DCMTK
storescu, the real pipeline run on it by the job runner, a second job failed by the runner,
three users (operator, viewer, planner); imported by this folder's conftest and tests."""

from __future__ import annotations

import os
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from playwright.sync_api import Page, expect

from dicomnode.audit.log import AuditLog
from dicomnode.completion import CompletionConfig, CompletionTracker
from dicomnode.intake.recorder import ReceiveRecorder
from dicomnode.jobs.config import JobsConfig
from dicomnode.jobs.local import LocalJobRunner
from dicomnode.scp.config import ScpConfig
from dicomnode.scp.server import start_scp
from dicomnode.scp.spool import SpoolWriter
from pipeline.config import PipelineConfig

CHROMIUM = "/usr/bin/chromium"
STORESCU = "/usr/bin/storescu"
"""DCMTK storescu (the venv also has pynetdicom's storescu on PATH)."""
PASSWORDS = {
    "olivia": "operator-password",
    "victor": "viewer-password",
    "paula": "planner-password",
}
JOB_TIMEOUT_S = 400.0


@dataclass(frozen=True)
class Site:
    """The served dashboard and what is in its database."""

    base_url: str
    audit: AuditLog
    patient_id: str
    pipeline_job: int
    failed_job: int


class RecordingSink:
    """Records each receive event in the audit database at once (as the service does)."""

    def __init__(self, audit: AuditLog) -> None:
        self._recorder = ReceiveRecorder(audit, CompletionTracker(CompletionConfig()))

    def publish(self, event: object) -> None:
        self._recorder.record(event)  # type: ignore[arg-type]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def receive(audit: AuditLog, spool: Path, dicom: Path) -> None:
    """Send every file of ``dicom`` to the real SCP with storescu (one association)."""
    scp = ScpConfig(port=free_port())
    running = start_scp(scp, SpoolWriter(spool), RecordingSink(audit))
    try:
        subprocess.run(
            [
                STORESCU,
                "-aet",
                "DEMOSENDER",
                "-aec",
                "DICOMNODE",
                "-nh",
                "+sd",
                "+r",
                "127.0.0.1",
                str(scp.port),
                str(dicom),
            ],
            check=True,
            capture_output=True,
            timeout=120,
            env=dict(os.environ, TCP_NODELAY="1"),
        )
    finally:
        running.stop()


def run_until_final(audit: AuditLog, handler: str, work: Path, job_id: int) -> None:
    """Run the job runner with ``handler`` (default pipeline configuration) until ``job_id``
    is final."""
    config = JobsConfig(
        handler=handler, workers=1, work_dir=work, poll_interval_s=0.2, max_attempts=1
    )
    runner = LocalJobRunner(config, audit, pipeline=PipelineConfig())
    runner.start()
    try:
        deadline = time.monotonic() + JOB_TIMEOUT_S
        while not audit.get_job(job_id).job.state.final:
            assert time.monotonic() < deadline, "the job did not finish in time"
            time.sleep(0.5)
    finally:
        runner.stop()


def log_in(page: Page, site: Site, name: str) -> None:
    """Log ``name`` in on the dashboard's login form (password from :data:`PASSWORDS`)."""
    page.goto(f"{site.base_url}/login")
    page.fill("input[name=username]", name)
    page.fill("input[name=password]", PASSWORDS[name])
    page.click("button[type=submit]")
    expect(page.locator("header .who")).to_contain_text(name)
