"""Redis as the broker (``jobs.broker_url: redis://127.0.0.1:6379/11``): jobs spread over two
workers, and a worker killed mid-job. Redis has no broker acknowledgements: the killed
worker's message stays aside for the visibility timeout (longer than the job timeout), so
the job comes back through the audit database (its claim lapses, the node publishes it
again) and the other worker finishes it; one result per job."""

from __future__ import annotations

from pathlib import Path

import pytest
from celery_cluster import check_rerun_after_loss, figures, kill_first_mid_job, running_cluster

from dicomnode.audit.rows import JobState
from dicomnode.jobs.celery_app import create_celery_app, visibility_timeout_s

pytestmark = [pytest.mark.peers]


def test_redis_broker_spreads_jobs_and_recovers_a_killed_worker(
    tmp_path: Path, pg_url: str, redis_broker: str
) -> None:
    with running_cluster(tmp_path / "cluster", pg_url, broker_url=redis_broker) as cluster:
        config = cluster.jobs_config()
        transport = create_celery_app(config).conf.broker_transport_options
        assert transport["visibility_timeout"] == visibility_timeout_s(config)
        assert transport["visibility_timeout"] > config.timeout_s + config.lease_s
        details, victim, skipped = kill_first_mid_job(cluster, ("d1", "d2"), jobs=6, job_s=2.0)
    found = figures(details)
    print(f"redis broker, kill -9 mid-job: {found} messages_acked_without_work={skipped}")
    assert {d.job.state for d in details.values()} == {JobState.SUCCEEDED}
    check_rerun_after_loss(details[victim], lost_on="d1", rerun_on="d2")
    assert len(details[victim].outputs) == 1
    assert (found.jobs, found.attempts, found.lost_attempts, found.duplicates) == (6, 7, 1, 0)
