"""``dicomnode serve`` as a subprocess with real peers: DCMTK, Orthanc, and kill -9.

Each test starts its own service on a free port with a twin job handler, checks the audit
database and the spool, and stops the service with SIGTERM (which must end it cleanly).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pydicom
import pytest
from conftest import dcmtk_env, echoscu, free_port, storescu
from ct_series import write_ct_series
from served_node import ServedNode

pytestmark = pytest.mark.peers


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedNode]:
    """One service shared by the tests of this module (each uses its own study)."""
    node = ServedNode(tmp_path_factory.mktemp("served") / "node", free_port())
    node.start()
    yield node
    assert node.stop() == 0, node.log_text()[-3000:]


def _jobs(node: ServedNode, study: str | None = None) -> list[tuple[int, str]]:
    if study is None:
        return node.query("SELECT id, state FROM jobs ORDER BY id")
    return node.query("SELECT id, state FROM jobs WHERE study_instance_uid = ?", study)


def _succeeded_once(node: ServedNode, study: str) -> bool:
    jobs = _jobs(node, study)
    return len(jobs) == 1 and jobs[0][1] == "succeeded"


def test_series_becomes_one_job_and_rejections_are_recorded(
    served: ServedNode, tmp_path: Path
) -> None:
    folder = tmp_path / "ct"
    paths = write_ct_series(folder, 10, seed=7)
    study = pydicom.dcmread(paths[0]).StudyInstanceUID
    assert storescu(served.port, folder).returncode == 0
    assert storescu(served.port, folder, aet="INTRUDER").returncode != 0
    served.wait_for(lambda: _succeeded_once(served, study), what="the job")
    stored = served.query(
        "SELECT status, path FROM instances WHERE status != 'rejected' AND study_instance_uid = ?",
        study,
    )
    assert len(stored) == 10 and all(Path(path).exists() for _, path in stored)
    rejected = served.query(
        "SELECT calling_ae, reject_reason FROM associations WHERE calling_ae = 'INTRUDER'"
    )
    assert rejected == [("INTRUDER", "calling AE title 'INTRUDER' is not in the allow-list")]
    accepted = served.query("SELECT calling_ae, instances FROM associations WHERE accepted")
    assert ("DEMOSENDER", 10) in accepted
    work = served.root / "data" / "work"
    series = pydicom.dcmread(paths[0]).SeriesInstanceUID
    handled = [json.loads(p.read_text()) for p in work.glob("handled-*.json")]
    handled = [h for h in handled if h["series"] == [series]]
    assert len(handled) == 1
    assert handled[0]["calling_ae"] == "DEMOSENDER"
    assert len(handled[0]["instances"]) == len(paths)
    assert echoscu(served.port) == 0


ORTHANC = "/usr/sbin/Orthanc"


@pytest.fixture
def orthanc(tmp_path: Path, served: ServedNode) -> Iterator[tuple[int, Path]]:
    """Orthanc on loopback with the node configured as modality ``NODE``."""
    if shutil.which(ORTHANC) is None:
        pytest.fail("Orthanc is not installed (Debian package 'orthanc')")
    folder = tmp_path / "orthanc"
    folder.mkdir()
    http_port = free_port()
    config = {
        "Name": "test",
        "DicomAet": "DEMOSENDER",
        "DicomPort": free_port(),
        "HttpPort": http_port,
        "StorageDirectory": str(folder / "storage"),
        "IndexDirectory": str(folder / "index"),
        "RemoteAccessAllowed": False,
        "AuthenticationEnabled": False,
        "DicomCheckCalledAet": True,
        "DicomModalities": {"NODE": ["DICOMNODE", "127.0.0.1", served.port]},
        "StableAge": 1,
        "SaveJobs": False,
        "Plugins": [],
    }
    (folder / "cfg.json").write_text(json.dumps(config))
    process = subprocess.Popen(
        [ORTHANC, str(folder / "cfg.json")],
        env=dcmtk_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{http_port}/system", timeout=2)
                break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise
                time.sleep(0.3)
        yield http_port, folder
    finally:
        process.terminate()
        process.wait(timeout=30)


def _post(port: int, path: str, body: bytes) -> object:
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=body, method="POST")
    with urllib.request.urlopen(request, timeout=120) as response:
        return json.loads(response.read())


def test_orthanc_pushes_a_series_to_the_node(
    served: ServedNode, orthanc: tuple[int, Path], tmp_path: Path
) -> None:
    http_port, _ = orthanc
    paths = write_ct_series(tmp_path / "ct", 8, seed=8)
    for path in paths:
        _post(http_port, "/instances", path.read_bytes())
    series = pydicom.dcmread(paths[0]).SeriesInstanceUID
    found = _post(http_port, "/tools/lookup", series.encode())
    assert isinstance(found, list) and found
    _post(http_port, "/modalities/NODE/store", found[0]["ID"].encode())
    study = pydicom.dcmread(paths[0]).StudyInstanceUID
    served.wait_for(lambda: _succeeded_once(served, study), what="the job")
    rows = served.query(
        "SELECT sop_instance_uid FROM instances WHERE series_instance_uid = ? "
        "AND status = 'stored'",
        series,
    )
    assert sorted(r[0] for r in rows) == sorted(pydicom.dcmread(p).SOPInstanceUID for p in paths)
    for path in paths:  # Orthanc may rewrite file meta: compare UIDs and pixels, not bytes
        source = pydicom.dcmread(path)
        received = pydicom.dcmread(
            served.spool / source.StudyInstanceUID / series / f"{source.SOPInstanceUID}.dcm"
        )
        assert received.PixelData == source.PixelData


def _acknowledged(output: str) -> int:
    return len(re.findall(r"Received Store Response \(Success\)", output))


def test_kill_9_mid_receive_and_mid_job_loses_and_duplicates_nothing(tmp_path: Path) -> None:
    node = ServedNode(
        tmp_path / "node",
        free_port(),
        overrides={"completion": {"series_quiet_s": 3}},
        env={"DICOMNODE_TEST_JOB_SLEEP_S": "1000"},
    )
    folder = tmp_path / "ct"
    write_ct_series(folder, 150, size=128, seed=9)
    node.start()
    try:
        result: list[subprocess.CompletedProcess[str]] = []
        sender = threading.Thread(
            target=lambda: result.append(storescu(node.port, folder, options=("-v",)))
        )
        sender.start()
        node.wait_for(lambda: len(node.spool_files()) >= 30, what="30 instances")
        node.kill9()  # mid-receive
        sender.join(timeout=120)
        acknowledged = _acknowledged(result[0].stdout + result[0].stderr)
        assert 30 <= acknowledged < 150, "the kill must interrupt the transfer"
        assert len(node.spool_files()) >= acknowledged  # every acknowledged file is there

        node.start()  # restart: reconcile, then the PACS resends the whole series
        assert list(node.spool.rglob("*.part")) == []
        assert storescu(node.port, folder).returncode == 0
        node.wait_for(lambda: _jobs(node) == [(1, "running")], what="a running job")
        node.kill9()  # mid-job (the twin handler sleeps)

        node.env["DICOMNODE_TEST_JOB_SLEEP_S"] = "0"
        node.start()
        node.wait_for(lambda: _jobs(node) == [(1, "succeeded")], what="the requeued job")
        assert node.stop() == 0
    finally:
        node.stop()
    assert len(node.spool_files()) == 150
    distinct = node.query(
        "SELECT COUNT(DISTINCT sop_instance_uid) FROM instances WHERE status != 'rejected'"
    )
    assert distinct == [(150,)]
    paths = node.query("SELECT COUNT(DISTINCT path) FROM instances WHERE path IS NOT NULL")
    assert paths == [(150,)]
    assert node.query("SELECT COUNT(*) FROM jobs") == [(1,)]
    handled = list((node.root / "data" / "work").glob("handled-*.json"))
    assert len(handled) == 1
    assert len(json.loads(handled[0].read_text())["instances"]) == 150
