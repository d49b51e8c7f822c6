"""Warm workers: one long-lived process per slot, prepared once, replaced when it dies,
times out or has run its share of jobs (real processes, twin handlers)."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from runner_helpers import running, wait_for

from dicomnode.audit.log import AuditLog
from dicomnode.audit.rows import JobState
from dicomnode.jobs.config import JobsConfig
from dicomnode.jobs.local import LocalJobRunner
from pipeline.config import PipelineConfig

Queue = Callable[..., int]


def _runner(audit: AuditLog, tmp_path: Path, handler: str, **changes: object) -> LocalJobRunner:
    values: dict[str, object] = {
        "handler": f"dicomnode_job_twins:{handler}",
        "work_dir": tmp_path / "work",
        "poll_interval_s": 0.1,
        "stop_grace_s": 0.0,
        "start_method": "forkserver",
    }
    values.update(changes)
    config = JobsConfig.model_validate(values)
    return LocalJobRunner(config, audit, pipeline=PipelineConfig(), node_name="n1")


def _result(audit: AuditLog, job_id: int) -> dict[str, Any]:
    result = audit.get_job(job_id).job.result
    assert result is not None
    return result


def _stages(audit: AuditLog, job_id: int) -> list[str]:
    return [event.stage for event in audit.get_job(job_id).events]


def _started_pid(tmp_path: Path, job_id: int) -> int:
    """The pid the ``hang`` twin wrote when attempt 1 of the job began."""
    marker = tmp_path / "work" / f"job-{job_id}" / "attempt-1" / "started"
    deadline = time.monotonic() + 30
    while not (marker.exists() and marker.read_text()):
        assert time.monotonic() < deadline, "the job never started"
        time.sleep(0.02)
    return int(marker.read_text())


def test_two_jobs_run_on_one_worker_prepared_once(
    audit: AuditLog, queue: Queue, tmp_path: Path
) -> None:
    first, second = queue(audit, "1.2.3.1"), queue(audit, "1.2.3.2")
    with running(_runner(audit, tmp_path, "counting")):
        wait_for(audit, first, JobState.SUCCEEDED)
        wait_for(audit, second, JobState.SUCCEEDED)
    one, two = _result(audit, first), _result(audit, second)
    assert one["worker"]["pid"] == two["worker"]["pid"] != os.getpid()
    assert (one["worker"]["job_number"], two["worker"]["job_number"]) == (1, 2)
    assert one["prepared"] == two["prepared"] == 1  # prepared once, for both jobs
    # what the start-up made is frozen out of the collector's walks; the job's collection
    # (the twin runs one) is counted
    assert one["model_walked_by_gc"] is two["model_walked_by_gc"] is False
    for result in (one, two):
        assert result["worker"]["gc"]["frozen_objects"] > 0
        assert result["worker"]["gc"]["collections"] >= 1
    assert "worker start" in _stages(audit, first)
    assert "worker start" not in _stages(audit, second)
    start = next(e for e in audit.get_job(first).events if e.stage == "worker start")
    assert "before this job was sent" in start.message


def test_per_attempt_processes_prepare_for_every_job(
    audit: AuditLog, queue: Queue, tmp_path: Path
) -> None:
    first, second = queue(audit, "1.2.3.1"), queue(audit, "1.2.3.2")
    with running(_runner(audit, tmp_path, "counting", warm_workers=False)):
        wait_for(audit, first, JobState.SUCCEEDED)
        wait_for(audit, second, JobState.SUCCEEDED)
    one, two = _result(audit, first), _result(audit, second)
    assert one["worker"]["pid"] != two["worker"]["pid"]
    assert one["worker"]["warm"] is two["worker"]["warm"] is False
    for job_id in (first, second):
        assert _result(audit, job_id)["prepared"] == 1
        # a process for one attempt does not freeze: freezing would only cost it a collection
        assert _result(audit, job_id)["model_walked_by_gc"] is True
        assert _result(audit, job_id)["worker"]["gc"]["frozen_objects"] == 0
        start = next(e for e in audit.get_job(job_id).events if e.stage == "worker start")
        assert "for this job" in start.message


def test_worker_killed_mid_job_fails_the_attempt_and_a_fresh_worker_runs_the_retry(
    audit: AuditLog, queue: Queue, tmp_path: Path
) -> None:
    job_id = queue(audit)
    with running(_runner(audit, tmp_path, "hang_first")):
        killed = _started_pid(tmp_path, job_id)
        os.kill(killed, signal.SIGKILL)
        wait_for(audit, job_id, JobState.SUCCEEDED)
    detail = audit.get_job(job_id)
    finished = [e.message for e in detail.events if e.stage == "finished"]
    assert finished == ["failed: worker process killed by SIGKILL", "succeeded"]
    worker = _result(audit, job_id)["worker"]
    assert worker["pid"] != killed and worker["job_number"] == 1


def test_timeout_replaces_the_worker(audit: AuditLog, queue: Queue, tmp_path: Path) -> None:
    job_id = queue(audit)
    with running(_runner(audit, tmp_path, "hang_first", timeout_s=3.0)):
        hung = _started_pid(tmp_path, job_id)
        wait_for(audit, job_id, JobState.SUCCEEDED)
    finished = [e.message for e in audit.get_job(job_id).events if e.stage == "finished"]
    assert finished == ["failed: timed out after 3 s", "succeeded"]
    assert _result(audit, job_id)["worker"]["pid"] != hung
    assert not Path(f"/proc/{hung}/cmdline").exists()  # killed and reaped


def test_worker_is_recycled_after_max_jobs(audit: AuditLog, queue: Queue, tmp_path: Path) -> None:
    ids = [queue(audit, f"1.2.3.{n}") for n in range(3)]
    with running(_runner(audit, tmp_path, "counting", max_jobs_per_worker=2)):
        for job_id in ids:
            wait_for(audit, job_id, JobState.SUCCEEDED)
    workers = [_result(audit, job_id)["worker"] for job_id in ids]
    assert [w["job_number"] for w in workers] == [1, 2, 1]
    assert workers[0]["pid"] == workers[1]["pid"] != workers[2]["pid"]


def test_stop_ends_the_workers(audit: AuditLog, queue: Queue, tmp_path: Path) -> None:
    job_id = queue(audit)
    runner = _runner(audit, tmp_path, "counting", workers=2)
    with running(runner):
        wait_for(audit, job_id, JobState.SUCCEEDED)
        pid = _result(audit, job_id)["worker"]["pid"]
        assert Path(f"/proc/{pid}").exists()
    assert not Path(f"/proc/{pid}").exists()
