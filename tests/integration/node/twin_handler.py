"""A job handler twin for service tests: records the job and succeeds without processing.

It writes ``<work_dir>/../../handled-<job id>.json`` listing the instance paths it got, so a
test can see which jobs ran on what; with ``DICOMNODE_TEST_JOB_SLEEP_S`` set it first sleeps
that many seconds (to kill the service mid-job).
"""

from __future__ import annotations

import json
import os
import time

from dicomnode.jobs.handler import JobOutcome, JobSpec


def run_job(spec: JobSpec) -> JobOutcome:
    """Record the spec and succeed."""
    time.sleep(float(os.environ.get("DICOMNODE_TEST_JOB_SLEEP_S", "0")))
    record = spec.work_dir.parent.parent / f"handled-{spec.job_id}-{time.time_ns()}.json"
    record.write_text(
        json.dumps(
            {
                "job_id": spec.job_id,
                "series": spec.series_instance_uids,
                "instances": sorted(str(p) for p in spec.instance_paths),
                "calling_ae": spec.calling_ae,
            }
        )
    )
    return JobOutcome(state="succeeded", result={"twin": True})
