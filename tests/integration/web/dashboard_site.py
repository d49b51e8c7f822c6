"""Builds the dashboard test site: a synthetic study received by the real SCP from DCMTK
storescu, the real pipeline run on it by the job runner, a second job failed by the runner,
three users (operator, viewer, planner), and on request a Tc-99m MAA SPECT/CT study's job
with image-based dosimetry; imported by this folder's conftest and tests."""

from __future__ import annotations

import os
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from playwright.sync_api import Page, expect
from typer.testing import CliRunner

from dicomnode.audit.log import AuditLog
from dicomnode.cli import app
from dicomnode.completion import CompletedGroup, CompletionConfig, CompletionTracker
from dicomnode.intake.recorder import ReceiveRecorder
from dicomnode.jobs.config import JobsConfig
from dicomnode.jobs.local import LocalJobRunner
from dicomnode.jobs.study_link import PlanningCTLinker
from dicomnode.scp.config import ScpConfig
from dicomnode.scp.header import read_header
from dicomnode.scp.server import start_scp
from dicomnode.scp.spool import SpoolWriter
from dicomnode.service import SeriesJobCreator
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
PIPELINE_HANDLER = "dicomnode.pipeline_job:run_job"


@dataclass(frozen=True)
class Site:
    """The served dashboard and what is in its database."""

    base_url: str
    audit: AuditLog
    patient_id: str
    pipeline_job: int
    failed_job: int
    root: Path
    """The site's folder: spool/ (what the SCP received), work/ (the jobs' results)."""


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


def add_maa_job(site: Site, seed: int) -> int:
    """Run a job with image-based dosimetry on the site; returns its id.

    ``dicomnode synth OUT --seed SEED --nm maa`` writes a patient's planning CT study and, as
    a study of its own, a Tc-99m MAA SPECT/CT with planar views. Both are received by the real
    SCP; the MAA study's job is created as the service creates it (its planning CT linked in
    by :class:`~dicomnode.jobs.study_link.PlanningCTLinker`) and run by the real pipeline.
    Use a seed other than the site's study (0), so that the site's patient keeps its jobs.
    """
    study = site.root / f"maa-{seed}"
    made = CliRunner().invoke(app, ["synth", str(study), "--seed", str(seed), "--nm", "maa"])
    assert made.exit_code == 0, made.output
    receive(site.audit, site.root / "spool", study / "dicom")
    maa_uid = read_header(next((study / "dicom" / "maa").rglob("*.dcm"))).study_instance_uid
    series = sorted({row.series_instance_uid for row in site.audit.study_instances(maa_uid)})
    linker = PlanningCTLinker(site.audit, PipelineConfig().dosimetry.link())
    SeriesJobCreator(site.audit, lambda: None, linker)(
        CompletedGroup(maa_uid, tuple(series), "DEMOSENDER")
    )
    [job] = site.audit.list_jobs(study_instance_uid=maa_uid)
    run_until_final(site.audit, PIPELINE_HANDLER, site.root / "work", job.job.id)
    return job.job.id


def log_in(page: Page, site: Site, name: str) -> None:
    """Log ``name`` in on the dashboard's login form (password from :data:`PASSWORDS`)."""
    page.goto(f"{site.base_url}/login")
    page.fill("input[name=username]", name)
    page.fill("input[name=password]", PASSWORDS[name])
    page.click("button[type=submit]")
    expect(page.locator("header .who")).to_contain_text(name)
