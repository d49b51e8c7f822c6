"""The README's main job: a synthetic study sent through the real node, end to end.

:func:`run_demo` starts ``dicomnode serve`` as a child process on the embedded defaults
(SQLite audit database, bundled demo model, CPU) with only the paths, the port, short
quiet times and a folder destination changed, writes a synthetic multi-phase study, sends
it over DICOM as the allowed ``DEMOSENDER`` like a PACS would, waits until the job is done
and every result is delivered, re-plans the result with example planner inputs
(:mod:`dicomnode.demo_plan`), and stops the node with SIGTERM.
"""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import yaml

from dicomnode.audit.ports import JobReader
from dicomnode.audit.rows import DeliveryState, JobDetail
from dicomnode.delivery.base import InstanceOutcome
from dicomnode.delivery.config import DimseDestinationConfig
from dicomnode.delivery.dimse import CStoreSender, echo

DEMO_MARKER = ".dicomnode-demo"
"""File that marks a folder as the demo's own (only such a folder is emptied on a rerun)."""

DEMO_SENDER_AET = "DEMOSENDER"
"""The calling AE title the embedded default allows from 127.0.0.1."""

NODE_AET = "DICOMNODE"
"""The node's AE title in the embedded default."""

DEFAULT_PORT = 11112
"""The embedded default's port, used when it is free."""

QUIET_S = 3.0
"""Seconds the demo study must be quiet before it becomes a job (120 s at a site)."""


class DemoError(RuntimeError):
    """The demo could not complete; the message says which step failed and why."""


@dataclass(frozen=True)
class DemoPaths:
    """Where the demo keeps its files, all below one work folder."""

    work: Path

    @property
    def config(self) -> Path:
        """The node's configuration file."""
        return self.work / "config.yaml"

    @property
    def study(self) -> Path:
        """The synthetic study (``dicom/`` and ``truth/``)."""
        return self.work / "study"

    @property
    def results(self) -> Path:
        """The folder destination results are delivered to."""
        return self.work / "results"

    @property
    def audit_db(self) -> Path:
        """The SQLite audit database."""
        return self.work / "audit.sqlite3"

    @property
    def node_log(self) -> Path:
        """Standard output and error of ``dicomnode serve``."""
        return self.work / "node.log"


def free_port(preferred: int = DEFAULT_PORT) -> int:
    """``preferred`` if nothing listens on it at 127.0.0.1, otherwise a free ephemeral port."""
    for port in (preferred, 0):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return int(probe.getsockname()[1])
    raise DemoError("no free TCP port on 127.0.0.1")


def prepare_work_folder(work: Path) -> DemoPaths:
    """Create ``work`` (emptying it only if an earlier demo run made it).

    Raises
    ------
    DemoError
        ``work`` exists, is not empty and was not made by the demo.
    """
    if work.exists() and any(work.iterdir()):
        if not (work / DEMO_MARKER).exists():
            raise DemoError(f"{work} is not empty and was not made by the demo; choose "
                            "another --work folder")
        shutil.rmtree(work)
    work.mkdir(parents=True, exist_ok=True)
    (work / DEMO_MARKER).write_text("made by dicomnode demo; emptied by its next run\n")
    return DemoPaths(work.resolve())


def write_node_config(paths: DemoPaths, port: int) -> None:
    """Write the node's configuration: the embedded defaults with the demo's changes."""
    config = {
        "scp": {"port": port},
        "spool": {"path": str(paths.work / "spool")},
        "audit": {"url": f"sqlite:///{paths.audit_db}"},
        "completion": {"policy": "study", "study_quiet_s": QUIET_S, "check_interval_s": 0.5},
        "jobs": {"work_dir": str(paths.work / "jobs"), "poll_interval_s": 1.0},
        "outbox": {"poll_interval_s": 1.0, "backoff_base_s": 2.0},
        "delivery": {
            "destinations": [{"kind": "folder", "name": "results", "path": str(paths.results)}]
        },
    }
    paths.config.write_text(yaml.safe_dump(config, sort_keys=False))


def start_node(paths: DemoPaths) -> subprocess.Popen[bytes]:
    """Start ``dicomnode serve --config`` as a child process logging to ``node.log``."""
    with paths.node_log.open("wb") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "dicomnode", "serve", "--config", str(paths.config)],
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=paths.work,
        )


def _log_tail(paths: DemoPaths, lines: int = 20) -> str:
    if not paths.node_log.exists():
        return ""
    return "\n".join(paths.node_log.read_text(errors="replace").splitlines()[-lines:])


def wait_for_node(node: subprocess.Popen[bytes], paths: DemoPaths, port: int,
                  timeout_s: float) -> None:
    """Wait until the node answers C-ECHO.

    Raises
    ------
    DemoError
        The node exited or did not answer within ``timeout_s`` seconds.
    """
    peer = _node_peer(port, timeout_s=2.0)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if node.poll() is not None:
            raise DemoError(f"the node exited with code {node.returncode}:\n{_log_tail(paths)}")
        if echo(peer).status.delivered:
            return
        time.sleep(0.5)
    raise DemoError(f"the node did not answer C-ECHO within {timeout_s:.0f} s:\n"
                    f"{_log_tail(paths)}")


def _node_peer(port: int, timeout_s: float) -> DimseDestinationConfig:
    return DimseDestinationConfig.model_validate({
        "name": "node", "host": "127.0.0.1", "port": port, "called_aet": NODE_AET,
        "calling_aet": DEMO_SENDER_AET,
        "timeouts": {"connection_s": timeout_s, "acse_s": timeout_s, "dimse_s": 60.0,
                     "network_s": 60.0},
    })


def send_study(files: list[Path], port: int,
               on_outcome: Callable[[InstanceOutcome], None] | None = None
               ) -> list[InstanceOutcome]:
    """C-STORE ``files`` to the node as the demo sender, one association."""
    return CStoreSender(_node_peer(port, timeout_s=10.0)).send(files, on_outcome=on_outcome)


def _delivery_done(detail: JobDetail) -> bool:
    """Every output (a result, or a rejection report) has left the outbox."""
    planned = {d.output_id for d in detail.deliveries}
    return all(o.id in planned for o in detail.outputs) and all(
        d.state is not DeliveryState.PENDING for d in detail.deliveries)


def _poll(node: subprocess.Popen[bytes], paths: DemoPaths, timeout_s: float, interval_s: float,
          check: Callable[[], JobDetail | None], what: str) -> JobDetail:
    """Call ``check`` every ``interval_s`` until it returns a job detail.

    Raises
    ------
    DemoError
        The node exited, or ``check`` gave nothing within ``timeout_s`` seconds (``what``
        did not finish).
    """
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if node.poll() is not None:
            raise DemoError(f"the node exited with code {node.returncode}:\n{_log_tail(paths)}")
        detail = check()
        if detail is not None:
            return detail
        time.sleep(interval_s)
    raise DemoError(f"{what} did not finish within {timeout_s:.0f} s; see {paths.node_log}")


def wait_for_job(audit: JobReader, study_instance_uid: str, node: subprocess.Popen[bytes],
                 paths: DemoPaths, timeout_s: float,
                 on_progress: Callable[[str], None]) -> JobDetail:
    """Wait until the study's job is final and none of its deliveries is pending.

    Raises
    ------
    DemoError
        The node exited, or the job did not finish within ``timeout_s`` seconds.
    """
    def finished() -> JobDetail | None:
        jobs = audit.list_jobs(study_instance_uid=study_instance_uid, limit=1)
        if not jobs:
            on_progress("waiting for the study to be complete (quiet timer)")
            return None
        detail = audit.get_job(jobs[0].job.id)
        stage = detail.events[-1].stage if detail.events else "queued"
        on_progress(f"job {detail.job.id}: {detail.job.state.value} ({stage})")
        return detail if detail.job.state.final and _delivery_done(detail) else None

    return _poll(node, paths, timeout_s, 1.0, finished, "the job")


def wait_for_deliveries(audit: JobReader, job_id: int, sop_instance_uids: set[str],
                        node: subprocess.Popen[bytes], paths: DemoPaths,
                        timeout_s: float) -> JobDetail:
    """Wait until the deliveries of the given outputs of a job have left the outbox.

    Raises
    ------
    DemoError
        The node exited, or the deliveries did not finish within ``timeout_s`` seconds.
    """
    def delivered() -> JobDetail | None:
        detail = audit.get_job(job_id)
        wanted = [d for d in detail.deliveries if d.sop_instance_uid in sop_instance_uids]
        done = wanted and all(d.state is not DeliveryState.PENDING for d in wanted)
        return detail if done else None

    return _poll(node, paths, timeout_s, 0.5, delivered, "the re-plan's deliveries")


def stop_node(node: subprocess.Popen[bytes], timeout_s: float = 60.0) -> int | None:
    """SIGTERM the node and wait for it; kill it if it does not stop in time."""
    if node.poll() is None:
        node.send_signal(signal.SIGTERM)
        try:
            node.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            node.kill()
            node.wait()
    return node.returncode
