"""Helpers of the job runner tests: a runner started for a block, waiting for a job state."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

from dicomnode.audit.log import AuditLog
from dicomnode.audit.rows import JobState
from dicomnode.jobs.local import LocalJobRunner


@contextmanager
def running(runner: LocalJobRunner) -> Iterator[LocalJobRunner]:
    """Start ``runner`` for the block and stop it after."""
    runner.start()
    try:
        yield runner
    finally:
        runner.stop()


def wait_for(audit: AuditLog, job_id: int, *states: JobState, timeout_s: float = 40) -> None:
    """Wait until the job is in one of ``states`` (fails after ``timeout_s`` seconds)."""
    deadline = time.monotonic() + timeout_s
    while audit.get_job(job_id).job.state not in states:
        assert time.monotonic() < deadline, f"job {job_id}: {audit.get_job(job_id).job}"
        time.sleep(0.05)
