"""A job handler that always fails (imported by the spawned job worker process)."""

from __future__ import annotations

from dicomnode.jobs.handler import JobOutcome, JobSpec


def run_job(spec: JobSpec) -> JobOutcome:
    """Fail the attempt the way a broken pipeline would: with an exception."""
    raise RuntimeError(f"synthetic failure of job {spec.job_id} for the dashboard tests")
