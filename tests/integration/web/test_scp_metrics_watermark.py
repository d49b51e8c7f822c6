"""The real SCP on loopback: ``/metrics`` moves as DCMTK storescu sends instances, and a
spool below its disk watermark refuses associations with a transient A-ASSOCIATE-RJ."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from pynetdicom import AE
from pynetdicom.sop_class import Verification  # type: ignore[attr-defined]

sys.path.append(str(Path(__file__).parents[1] / "node"))  # ct_series, served_node

from ct_series import write_ct_series
from dashboard_site import STORESCU, RecordingSink, free_port

from dicomnode.audit.log import AuditLog
from dicomnode.config import DicomNodeConfig
from dicomnode.scp.config import ScpConfig
from dicomnode.scp.server import RunningScp, start_scp
from dicomnode.scp.spool import SpoolWriter
from dicomnode.web.app import create_app

SENDER_AET = "DEMOSENDER"
NODE_AET = "DICOMNODE"


@pytest.fixture
def audit(tmp_path: Path) -> Iterator[AuditLog]:
    log = AuditLog.from_url(f"sqlite:///{tmp_path / 'audit.sqlite3'}")
    log.upgrade()
    yield log
    log.dispose()


def _scp(audit: AuditLog, spool: Path, min_free_bytes: int) -> tuple[RunningScp, ScpConfig]:
    config = ScpConfig(port=free_port())
    running = start_scp(
        config, SpoolWriter(spool), RecordingSink(audit),
        min_free_bytes=min_free_bytes,
    )
    return running, config


def _metrics(client: TestClient) -> dict[tuple[str, str], float]:
    found = {}
    for family in text_string_to_metric_families(client.get("/metrics").text):
        for sample in family.samples:
            label = sample.labels.get("status") or sample.labels.get("outcome") or ""
            found[(sample.name, label)] = sample.value
    return found


def test_metrics_move_as_storescu_sends(audit: AuditLog, tmp_path: Path) -> None:
    spool = tmp_path / "spool"
    running, scp = _scp(audit, spool, min_free_bytes=0)
    client = TestClient(create_app(DicomNodeConfig(spool={"path": str(spool)}), audit))
    try:
        before = _metrics(client)
        files = write_ct_series(tmp_path / "ct", 4, size=32)
        subprocess.run(
            [STORESCU, "-aet", SENDER_AET, "-aec", NODE_AET, "-nh", "127.0.0.1", str(scp.port),
             *map(str, files)],
            check=True, capture_output=True, timeout=60, env=dict(os.environ, TCP_NODELAY="1"),
        )
    finally:
        running.stop()
    after = _metrics(client)
    stored = ("dicomnode_instances_received_total", "stored")
    accepted = ("dicomnode_associations_total", "accepted")
    received = ("dicomnode_received_bytes_total", "")
    assert (before[stored], before[accepted], before[received]) == (0, 0, 0)
    assert after[stored] == 4
    assert after[accepted] == 1
    spooled = sum(path.stat().st_size for path in spool.rglob("*.dcm"))
    assert after[received] == spooled > 0


def test_low_disk_refuses_associations_transiently(audit: AuditLog, tmp_path: Path) -> None:
    spool = tmp_path / "spool"
    running, scp = _scp(audit, spool, min_free_bytes=2**62)
    try:
        ae = AE(ae_title=SENDER_AET)
        ae.add_requested_context(Verification)
        assoc = ae.associate("127.0.0.1", scp.port, ae_title=NODE_AET)
        assert assoc.is_rejected
        primitive = assoc.acceptor.primitive
        assert primitive is not None
        assert (primitive.result, primitive.result_source, primitive.diagnostic) == (
            0x02,  # rejected-transient: the sender may try again later
            0x03,  # service-provider (presentation related function)
            0x01,  # temporary congestion
        )
    finally:
        running.stop()
    config = DicomNodeConfig(spool={"path": str(spool), "min_free_bytes": 2**62})
    client = TestClient(create_app(config, audit))
    assert _metrics(client)[("dicomnode_associations_total", "rejected")] == 1
    (rejection,) = client.app.state.dashboard.queries.recent_associations(rejected_only=True)
    assert rejection.reject_reason.startswith("spool disk space low")
    assert client.get("/health/ready").status_code == 503
