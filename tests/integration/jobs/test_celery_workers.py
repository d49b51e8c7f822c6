"""Two ``dicomnode worker`` processes on one RabbitMQ queue and a PostgreSQL audit database:
jobs spread over both, the real pipeline on a synthetic study, a worker killed mid-job, and
a worker that cannot see the shared storage."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from celery_cluster import check_rerun_after_loss, figures, kill_first_mid_job, running_cluster

from dicomnode.audit.rows import JobState, OutputKind
from pipeline.synth.study import write_study

pytestmark = [pytest.mark.peers, pytest.mark.usefixtures("rabbitmq")]


def test_jobs_spread_over_two_workers_with_one_real_pipeline_job(
    tmp_path: Path, pg_url: str
) -> None:
    write_study(tmp_path / "study", 0, "small", volumes=False)
    with running_cluster(tmp_path / "cluster", pg_url) as cluster:
        for name in ("a1", "a2"):
            cluster.start_worker(name, handler="fixed_cost:mixed", job_s=1.0)
        cluster.wait_ready(["a1", "a2"])
        fixed = [cluster.add_fixed_job() for _ in range(10)]
        real = cluster.add_study_job(tmp_path / "study" / "dicom")
        cluster.runner.notify()
        details = cluster.wait_final([*fixed, real], timeout_s=240)
        workers = {row.name: row for row in cluster.audit.job_workers()}
    assert {d.job.state for d in details.values()} == {JobState.SUCCEEDED}
    ran_on = {job_id: (d.job.worker or "").split("/")[0] for job_id, d in details.items()}
    assert set(ran_on.values()) == {"a1", "a2"}, ran_on
    assert {name: workers[name].jobs_done for name in ("a1", "a2")} == {
        name: sum(1 for worker in ran_on.values() if worker == name) for name in ("a1", "a2")
    }
    pipeline = details[real]
    assert sorted(o.kind for o in pipeline.outputs) == sorted(
        [OutputKind.SEG, OutputKind.SR, OutputKind.PDF]
    )
    result = pipeline.job.result or {}
    assert result["worker"]["warm"] is True
    stages = [event.stage for event in pipeline.events]
    assert "segment" in stages and "model load" not in stages  # prepared before the job
    # every output lies in the work folder of the worker that ran the job
    worker_dir = cluster.root / f"work-{ran_on[real]}" / f"job-{real}"
    assert all(Path(o.path).is_relative_to(worker_dir) for o in pipeline.outputs)
    assert figures(details).duplicates == 0


def test_worker_killed_mid_job_is_redelivered_and_finishes_on_the_other(
    tmp_path: Path, pg_url: str
) -> None:
    with running_cluster(tmp_path / "cluster", pg_url) as cluster:
        details, victim, skipped = kill_first_mid_job(cluster, ("k1", "k2"), jobs=6, job_s=3.0)
    found = figures(details)
    print(f"kill -9 mid-job: {found} messages_acked_without_work={skipped}")
    assert {d.job.state for d in details.values()} == {JobState.SUCCEEDED}
    check_rerun_after_loss(details[victim], lost_on="k1", rerun_on="k2")
    assert len(details[victim].outputs) == 1  # one set of results: the second attempt's
    assert (found.jobs, found.lost_attempts, found.taken_over, found.duplicates) == (6, 1, 1, 0)
    assert found.attempts == 7


def test_worker_without_the_shared_storage_fails_the_job_with_the_reason(
    tmp_path: Path, pg_url: str
) -> None:
    offline = tmp_path / "nfs"
    with running_cluster(tmp_path / "cluster", pg_url, jobs={"max_attempts": 2}) as cluster:
        job_id = cluster.add_fixed_job(share=offline)
        shutil.move(offline, tmp_path / "nfs-unmounted")  # the share is gone on this worker
        cluster.start_worker("s1")
        cluster.wait_ready(["s1"])
        cluster.runner.notify()
        detail = cluster.wait_final([job_id], timeout_s=60)[job_id]
    assert detail.job.state is JobState.DEAD_LETTERED
    assert detail.job.attempts == 2
    assert detail.job.error is not None
    assert detail.job.error.startswith("shared storage not visible on worker s1: 2 of 2 ")
    assert "Traceback" not in detail.job.error
    assert detail.outputs == ()
