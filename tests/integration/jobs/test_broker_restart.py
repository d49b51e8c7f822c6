"""A broker restart in the middle of a run loses no job: a private RabbitMQ node (own name,
ports and data folder, never the system's broker) is shut down while workers run jobs and
the node queues more, then started again on the same data."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from celery_cluster import RABBITMQ_SERVER, figures, private_rabbitmq, running_cluster

from dicomnode.audit.rows import JobState

pytestmark = [pytest.mark.peers, pytest.mark.usefixtures("rabbitmq")]


def test_broker_restart_mid_run_loses_no_job(tmp_path: Path, pg_url: str) -> None:
    if not RABBITMQ_SERVER.exists():
        message = "rabbitmq-server is not installed: no private broker node can be started"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    with (
        private_rabbitmq() as broker,
        running_cluster(tmp_path / "cluster", pg_url, broker_url=broker.url) as cluster,
    ):
        for name in ("r1", "r2"):
            cluster.start_worker(name, job_s=2.0)
        cluster.wait_ready(["r1", "r2"])
        jobs = [cluster.add_fixed_job() for _ in range(6)]
        cluster.runner.notify()
        cluster.wait_running("r1")
        broker.stop()
        # while the broker is down the node queues more jobs: none is recorded as published
        late = [cluster.add_fixed_job() for _ in range(2)]
        cluster.runner.notify()
        time.sleep(2.0)
        for job_id in late:
            assert "enqueued" not in [e.stage for e in cluster.audit.get_job(job_id).events]
        broker.start()
        details = cluster.wait_final([*jobs, *late], timeout_s=150)
        skipped = cluster.skipped_messages()
    found = figures(details)
    print(f"broker restart mid-run: {found} messages_acked_without_work={skipped}")
    assert {d.job.state for d in details.values()} == {JobState.SUCCEEDED}
    assert (found.jobs, found.duplicates) == (8, 0)
    assert all(len(d.outputs) == 1 for d in details.values())
