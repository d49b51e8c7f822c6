"""The local runner runs jobs in separate processes; crashes there never reach the service."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest
from runner_helpers import running, wait_for

from dicomnode.audit.log import AuditLog
from dicomnode.audit.rows import JobState, OutputKind
from dicomnode.jobs.config import JobsConfig
from dicomnode.jobs.local import LocalJobRunner
from dicomnode.jobs.runner import create_runner
from pipeline.config import PipelineConfig

Queue = Callable[..., int]
PIPELINE = PipelineConfig()


@pytest.fixture(params=[True, False], ids=["warm", "per-attempt"])
def warm(request: pytest.FixtureRequest) -> bool:
    """``jobs.warm_workers``: both ways of running attempts keep every guarantee."""
    return bool(request.param)


def _config(tmp_path: Path, handler: str, **changes: object) -> JobsConfig:
    values: dict[str, object] = {
        "handler": f"dicomnode_job_twins:{handler}",
        "work_dir": tmp_path / "work",
        "poll_interval_s": 0.1,
        "stop_grace_s": 0.0,
        "start_method": "forkserver",  # fast; the default "spawn" runs in the first test
    }
    values.update(changes)
    return JobsConfig.model_validate(values)


def test_success_records_outputs_stages_and_notifies(
    audit: AuditLog, queue: Queue, tmp_path: Path, warm: bool
) -> None:
    job_id = queue(audit)
    finished: list[tuple[int, JobState]] = []
    runner = LocalJobRunner(
        _config(tmp_path, "succeed", warm_workers=warm, start_method="spawn"),
        audit,
        pipeline=PIPELINE,
        node_name="n1",
        on_finished=lambda job, state: finished.append((job, state)),
    )
    with running(runner):
        runner.notify()
        wait_for(audit, job_id, JobState.SUCCEEDED)
    detail = audit.get_job(job_id)
    assert finished == [(job_id, JobState.SUCCEEDED)]
    assert detail.job.worker == runner.worker_name
    assert detail.job.worker.startswith("n1/")
    assert detail.job.result is not None and detail.job.result["calling_ae"] == "PACS"
    stages = [(e.stage, e.message, e.duration_s) for e in detail.events]
    assert ("select", "2 instances", 0.1) in stages
    assert ("segment", "demo model", 0.2) in stages
    work = tmp_path / "work" / f"job-{job_id}" / "attempt-1"
    assert [(Path(o.path), o.kind, o.version) for o in detail.outputs] == [
        (work / "seg-1.dcm", OutputKind.SEG, 1),
        (work / "seg-2.dcm", OutputKind.SEG, 1),
    ]


@pytest.mark.parametrize(
    ("handler", "reason"),
    [
        ("exit_hard", "worker process exited with status 3 without an outcome"),
        ("kill_self", "worker process killed by SIGKILL"),
    ],
)
def test_crashing_job_is_retried_then_dead_lettered_and_the_runner_goes_on(
    audit: AuditLog, queue: Queue, tmp_path: Path, warm: bool, handler: str, reason: str
) -> None:
    crashing = queue(audit, "1.2.3.1")
    runner = LocalJobRunner(
        _config(tmp_path, handler, warm_workers=warm), audit, pipeline=PIPELINE, node_name="n1"
    )
    with running(runner):
        wait_for(audit, crashing, JobState.DEAD_LETTERED)
        later = queue(audit, "1.2.3.2")  # the runner still claims and runs jobs
        runner.notify()
        wait_for(audit, later, JobState.FAILED, JobState.DEAD_LETTERED)
    job = audit.get_job(crashing).job
    assert (job.attempts, job.error) == (2, reason)
    finished = [e.message for e in audit.get_job(crashing).events if e.stage == "finished"]
    assert finished == [f"failed: {reason}", f"dead_lettered: {reason}"]


def test_handler_exception_fails_the_attempt_and_the_retry_succeeds(
    audit: AuditLog, queue: Queue, tmp_path: Path, warm: bool
) -> None:
    job_id = queue(audit)
    with running(
        LocalJobRunner(
            _config(tmp_path, "raise_once", warm_workers=warm),
            audit,
            pipeline=PIPELINE,
            node_name="n1",
        )
    ):
        wait_for(audit, job_id, JobState.SUCCEEDED)
    detail = audit.get_job(job_id)
    finished = [e.message for e in detail.events if e.stage == "finished"]
    assert finished[0].startswith("failed: RuntimeError: flaky GPU at ")
    assert finished[1] == "succeeded"
    assert {o.version for o in detail.outputs} == {2}


def test_rejection_and_outputs_outside_the_work_folder(
    audit: AuditLog, queue: Queue, tmp_path: Path, warm: bool
) -> None:
    rejected = queue(audit, "1.2.3.1")
    with running(
        LocalJobRunner(
            _config(tmp_path, "reject", warm_workers=warm), audit, pipeline=PIPELINE, node_name="n1"
        )
    ):
        wait_for(audit, rejected, JobState.REJECTED)
    assert audit.get_job(rejected).job.error == "no portal-venous series"
    escaping = queue(audit, "1.2.3.2")
    runner = LocalJobRunner(
        _config(tmp_path, "outside_output", warm_workers=warm),
        audit,
        pipeline=PIPELINE,
        node_name="n1",
    )
    with running(runner):
        wait_for(audit, escaping, JobState.DEAD_LETTERED)
    assert "outside the job's work folder" in (audit.get_job(escaping).job.error or "")


def test_timeout_kills_the_job(audit: AuditLog, queue: Queue, tmp_path: Path, warm: bool) -> None:
    job_id = queue(audit)
    config = _config(tmp_path, "hang", warm_workers=warm, timeout_s=0.6)
    with running(LocalJobRunner(config, audit, pipeline=PIPELINE, node_name="n1")):
        wait_for(audit, job_id, JobState.DEAD_LETTERED)
    assert audit.get_job(job_id).job.error == "timed out after 0.6 s"


def test_stop_interrupts_and_requeues_running_jobs(
    audit: AuditLog, queue: Queue, tmp_path: Path, warm: bool
) -> None:
    job_id = queue(audit)
    runner = LocalJobRunner(
        _config(tmp_path, "hang", warm_workers=warm), audit, pipeline=PIPELINE, node_name="n1"
    )
    with running(runner):
        started = tmp_path / "work" / f"job-{job_id}" / "attempt-1" / "started"
        deadline = time.monotonic() + 30
        while not started.exists():
            assert time.monotonic() < deadline
            time.sleep(0.05)
    job = audit.get_job(job_id).job
    assert (job.state, job.attempts) == (JobState.QUEUED, 1)


def test_start_recovers_this_nodes_interrupted_jobs(
    audit: AuditLog, queue: Queue, tmp_path: Path, warm: bool
) -> None:
    mine, theirs = queue(audit, "1.2.3.1"), queue(audit, "1.2.3.2")
    audit.claim_next_job("n1/4242")  # left running by a killed service on this node
    audit.claim_next_job("n2/77")  # running on another node
    with running(
        LocalJobRunner(
            _config(tmp_path, "succeed", warm_workers=warm),
            audit,
            pipeline=PIPELINE,
            node_name="n1",
        )
    ):
        wait_for(audit, mine, JobState.SUCCEEDED)
    assert audit.get_job(mine).job.attempts == 2
    assert audit.get_job(theirs).job.state is JobState.RUNNING


def test_local_backend_is_the_default(audit: AuditLog, tmp_path: Path) -> None:
    assert isinstance(
        create_runner(_config(tmp_path, "succeed"), audit, pipeline=PIPELINE), LocalJobRunner
    )
