"""Priorities of the Celery backend, and what ``/metrics`` and the dashboard show: a rushed
job goes first, then a small study overtakes the waiting large ones; the queue depth, the
workers alive, the jobs per worker and the oldest waiting job are reported."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from celery_cluster import running_cluster
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from dicomnode.config import DicomNodeConfig
from dicomnode.jobs.broker_probe import BrokerProbe
from dicomnode.web.app import create_app
from dicomnode.web.roles import Role
from dicomnode.web.users import UserStore

pytestmark = [pytest.mark.peers, pytest.mark.usefixtures("rabbitmq")]


def _metrics(client: TestClient) -> dict[tuple[str, str], float]:
    found = {}
    for family in text_string_to_metric_families(client.get("/metrics").text):
        for sample in family.samples:
            label = sample.labels.get("queue") or sample.labels.get("worker") or ""
            found[(sample.name, label)] = sample.value
    return found


def _logged_in(client: TestClient, engine: object) -> None:
    UserStore(engine).add("viewer", Role.VIEWER, "viewer-password-1", by_user="test")  # type: ignore[arg-type]
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text)
    assert token is not None
    reply = client.post(
        "/login",
        data={"csrf_token": token.group(1), "username": "viewer", "password": "viewer-password-1"},
    )
    assert reply.status_code == 303


def test_small_studies_and_rushed_jobs_go_first_and_metrics_show_the_queues(
    tmp_path: Path, pg_url: str
) -> None:
    # the dispatcher starts after the rush: had it published the job before, the rush would
    # publish it again (a sixth message, at the rush priority), as it should
    with running_cluster(
        tmp_path / "cluster", pg_url, dispatching=False, jobs={"small_study_instances": 2}
    ) as cluster:
        large = [cluster.add_fixed_job(instances=3) for _ in range(4)]
        small = cluster.add_fixed_job(instances=1)
        cluster.audit.rush_job(large[-1], by_user="planner")
        cluster.runner.start()
        config = DicomNodeConfig(
            audit={"url": pg_url},
            spool={"path": str(cluster.share / "spool")},
            jobs=cluster.jobs_config().model_dump(),
        )
        client = TestClient(create_app(config, cluster.audit), follow_redirects=False)
        queue = cluster.queue
        waiting = {}
        for _ in range(50):
            waiting = _metrics(client)
            if waiting.get(("dicomnode_queue_messages", queue)) == 5:
                break
            time.sleep(0.2)
        assert waiting[("dicomnode_broker_up", "")] == 1, BrokerProbe(
            cluster.jobs_config()
        ).report()
        assert waiting[("dicomnode_queue_messages", queue)] == 5
        assert waiting[("dicomnode_oldest_queued_job_age_seconds", "")] >= 0
        _logged_in(client, cluster.audit.engine)
        page = client.get("/").text
        assert 'id="broker-queues"' in page and f"<td>{queue}</td>" in page

        cluster.start_worker("f1", job_s=0.5)
        cluster.wait_ready(["f1"])
        details = cluster.wait_final([*large, small], timeout_s=90)
        after = _metrics(client)
        page = client.get("/").text
    started = sorted(details, key=lambda job_id: details[job_id].job.started_at)  # type: ignore[arg-type, return-value]
    assert started[:2] == [large[-1], small], started  # the rushed one, then the small study
    assert "rushed" in [event.stage for event in details[large[-1]].events]
    assert after[("dicomnode_worker_up", "f1")] == 1
    assert after[("dicomnode_workers_alive", "")] >= 1  # other tests' workers share the database
    assert after[("dicomnode_worker_jobs_total", "f1")] == 5
    assert after[("dicomnode_queue_messages", queue)] == 0
    assert after[("dicomnode_queue_consumers", queue)] == 1
    assert re.search(r"<td>f1</td><td class=\"ok\">alive</td>", page)
