"""kill -9 of the service at any moment: after a restart every job runs to completion once,
and only the outputs of its succeeding attempt are delivered (once in the database)."""

from __future__ import annotations

import os
import random
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from dicomnode.audit.log import AuditLog
from dicomnode.audit.rows import DeliveryState, JobState

TWINS = Path(__file__).with_name("dicomnode_job_twins.py")


def _service(
    db_url: str, tmp_path: Path, handler: str, start_method: str, warm: str = "warm"
) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            sys.executable,
            str(TWINS),
            db_url,
            str(tmp_path / "work"),
            str(tmp_path / "out"),
            handler,
            start_method,
            warm,
        ],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": _python_path(TWINS.parent)},
    )


def _python_path(folder: Path) -> str:
    """``folder`` in front of the caller's PYTHONPATH (which names the code under test)."""
    return os.pathsep.join(filter(None, [str(folder), os.environ.get("PYTHONPATH")]))


def _kill(process: subprocess.Popen[bytes]) -> None:
    process.kill()
    process.wait(timeout=30)


def _queue(audit: AuditLog, count: int) -> list[int]:
    ids = []
    for number in range(count):
        series = f"1.2.3.{number}"
        audit.record_instance(
            association_id=None,
            sop_instance_uid=f"{series}.1",
            sop_class_uid="1.2.840.10008.5.1.4.1.1.2",
            transfer_syntax_uid="1.2.840.10008.1.2.1",
            study_instance_uid="1.2.826.0.1.1",
            series_instance_uid=series,
            path=f"/spool/{number}.dcm",
            size_bytes=1,
            status="stored",
            reason=None,
            header={},
        )
        ids.append(
            audit.create_job(
                study_instance_uid="1.2.826.0.1.1", series_instance_uids=[series], calling_ae=None
            )
        )
    return ids


def _wait_until_running(audit: AuditLog, worker: str) -> None:
    """Wait until this service incarnation has claimed a job."""
    deadline = time.monotonic() + 30
    while not any(row.job.worker == worker for row in audit.list_jobs(state="running")):
        assert time.monotonic() < deadline, "the service never claimed a job"
        time.sleep(0.02)


def _settled(audit: AuditLog, ids: list[int]) -> bool:
    details = [audit.get_job(job_id) for job_id in ids]
    return all(
        d.job.state is JobState.SUCCEEDED
        and d.deliveries
        and all(x.state is DeliveryState.DELIVERED for x in d.deliveries)
        for d in details
    )


def test_kill_9_at_random_moments_then_restart(db_url: str, tmp_path: Path) -> None:
    audit = AuditLog.from_url(db_url, max_job_attempts=10)
    ids = _queue(audit, 2)
    chance = random.Random(20261122)
    kills = 2
    for cycle in range(kills):
        service = _service(db_url, tmp_path, "slow_succeed", "forkserver")
        _wait_until_running(audit, f"crashnode/{service.pid}")
        time.sleep(0.0 if cycle == 0 else chance.uniform(0.0, 1.5))
        _kill(service)
    service = _service(db_url, tmp_path, "slow_succeed", "forkserver")
    try:
        deadline = time.monotonic() + 60
        while not _settled(audit, ids):
            assert time.monotonic() < deadline, [audit.get_job(i).job for i in ids]
            time.sleep(0.2)
    finally:
        _kill(service)

    expected: set[str] = set()
    for job_id in ids:
        detail = audit.get_job(job_id)
        finished = [e.message for e in detail.events if e.stage == "finished"]
        assert finished == ["succeeded"]  # ran to completion exactly once
        final = detail.job.attempts
        delivered = {d.output_id for d in detail.deliveries}
        assert delivered == {o.id for o in detail.outputs if o.version == final}
        assert len(delivered) == 2 and len(detail.deliveries) == 2
        assert all(d.attempts == 1 for d in detail.deliveries)
        expected |= {f"job-{job_id}/attempt-{final}/seg-{n}.dcm" for n in (1, 2)}
    recovered = [e for i in ids for e in audit.get_job(i).events if e.stage == "recovered"]
    assert len(recovered) >= 1  # the first kill hit a running job
    sent = Counter((tmp_path / "out" / "ledger.txt").read_text().split())
    assert set(sent) == expected  # no output of an interrupted attempt was ever sent
    # On the wire a kill between the peer's answer and its recording resends once.
    assert sum(sent.values()) - len(sent) <= kills
    audit.dispose()


@pytest.mark.parametrize("warm", ["warm", "per-attempt"])
@pytest.mark.parametrize("start_method", ["spawn", "forkserver"])
def test_worker_processes_exit_with_a_killed_service(
    db_url: str, tmp_path: Path, start_method: str, warm: str
) -> None:
    audit = AuditLog.from_url(db_url)
    (job_id,) = _queue(audit, 1)
    service = _service(db_url, tmp_path, "hang", start_method, warm)
    marker = tmp_path / "work" / f"job-{job_id}" / "attempt-1" / "started"
    try:
        deadline = time.monotonic() + 30
        while not (marker.exists() and marker.read_text()):
            assert time.monotonic() < deadline
            time.sleep(0.05)
    finally:
        _kill(service)
    worker = Path(f"/proc/{int(marker.read_text())}")
    deadline = time.monotonic() + 10
    while worker.exists() and "Z" not in _state(worker):
        assert time.monotonic() < deadline, "the job's worker outlived the service"
        time.sleep(0.05)
    assert audit.get_job(job_id).job.state is JobState.RUNNING  # until the next start
    audit.dispose()


def _state(proc: Path) -> str:
    try:
        return (proc / "stat").read_text().split(")")[-1].split()[0]
    except OSError:
        return "Z"
