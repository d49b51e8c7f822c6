"""``dicomnode serve`` starts the dashboard as one of its loops: health, readiness and
``/metrics`` over HTTP, with values that move as storescu sends to the node's SCP
processes; a taken dashboard port does not stop the node."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests
from prometheus_client.parser import text_string_to_metric_families

sys.path.append(str(Path(__file__).parents[1] / "node"))  # ct_series, served_node

from ct_series import write_ct_series
from dashboard_site import STORESCU, free_port
from served_node import ServedNode


def _wait_until_serving(base: str, timeout_s: float = 60.0) -> None:
    """The service starts the dashboard after its SCP, runner and outbox: wait for it."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            requests.get(f"{base}/health", timeout=5)
            return
        except requests.ConnectionError:
            assert time.monotonic() < deadline, "the dashboard did not start"
            time.sleep(0.2)


def _stored(base: str) -> float:
    text = requests.get(f"{base}/metrics", timeout=10).text
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "dicomnode_instances_received_total" and (
                sample.labels["status"] == "stored"
            ):
                return float(sample.value)
    raise AssertionError("no dicomnode_instances_received_total{status=stored} sample")


def test_serve_runs_the_dashboard(tmp_path: Path) -> None:
    web_port = free_port()
    node = ServedNode(tmp_path / "node", free_port(), {"web": {"port": web_port}})
    node.start()
    base = f"http://127.0.0.1:{web_port}"
    try:
        _wait_until_serving(base)
        assert requests.get(f"{base}/health", timeout=10).json() == {"status": "ok"}
        ready = requests.get(f"{base}/health/ready", timeout=10)
        assert ready.status_code == 200, ready.text
        assert _stored(base) == 0
        files = write_ct_series(tmp_path / "ct", 3, size=32)
        subprocess.run(
            [STORESCU, "-aet", "DEMOSENDER", "-aec", "DICOMNODE", "-nh", "127.0.0.1",
             str(node.port), *map(str, files)],
            check=True, capture_output=True, timeout=60, env=dict(os.environ, TCP_NODELAY="1"),
        )
        deadline = time.monotonic() + 30
        while _stored(base) < 3 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert _stored(base) == 3
        login = requests.get(f"{base}/", timeout=10, allow_redirects=False)
        assert (login.status_code, login.headers["location"]) == (303, "/login?next=%2F")
    finally:
        assert node.stop() == 0
    assert not any(row[0] == "web_failed" for row in node.query("SELECT kind FROM service_events"))


def test_taken_dashboard_port_is_recorded_and_the_node_runs_on(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        web_port = int(taken.getsockname()[1])
        node = ServedNode(tmp_path / "node", free_port(), {"web": {"port": web_port}})
        node.start()
        try:
            node.wait_for(
                lambda: node.query("SELECT detail FROM service_events WHERE kind='web_failed'"),
                timeout_s=30, what="the web_failed service event",
            )
            (detail,) = node.query("SELECT detail FROM service_events WHERE kind='web_failed'")[0]
            assert f"127.0.0.1:{web_port}" in detail
            assert node.process is not None and node.process.poll() is None
        finally:
            assert node.stop() == 0
