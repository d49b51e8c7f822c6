"""A Celery cluster on loopback for the tests and bench/scale.py: the node's dispatcher in this
process, ``dicomnode worker`` subprocesses, RabbitMQ and PostgreSQL.

Each cluster uses its own queue names (a uuid), so parallel runs on one broker never meet;
its queues are deleted when it stops. Instance files live under ``<root>/share`` (the shared
storage of node and workers); each worker has its own work folder under ``<root>``.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import redis
import yaml
from kombu import Connection

from dicomnode.audit.engine import create_audit_engine
from dicomnode.audit.log import AuditLog
from dicomnode.audit.rows import JobDetail, JobState
from dicomnode.jobs.celery_app import is_redis, queue_names
from dicomnode.jobs.celery_runner import CeleryJobRunner
from dicomnode.jobs.config import JobsConfig
from dicomnode.scp.header import read_header
from pipeline.synth.spec import SeriesSpec, StudySpec
from pipeline.synth.study import write_study
from pipeline.synth.tissue import Phase

REPO = Path(__file__).resolve().parents[3]
HERE = Path(__file__).resolve().parent
BROKER_URL = "amqp://guest:guest@127.0.0.1:5672//"
CT_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.2"
EXPLICIT_VR_LITTLE_ENDIAN = "1.2.840.10008.1.2.1"


def broker_reachable(url: str = BROKER_URL, timeout_s: float = 3.0) -> bool:
    """Whether an AMQP broker answers at ``url`` (log-in included)."""
    parsed = urlparse(url)
    try:
        with socket.create_connection((parsed.hostname, parsed.port or 5672), timeout=timeout_s):
            pass
        with Connection(url, connect_timeout=timeout_s) as connection:
            connection.ensure_connection(max_retries=1)
        return True
    except Exception:
        return False


def start_debian_rabbitmq() -> None:
    """Start the Debian ``rabbitmq-server`` service (where it is installed but stopped)."""
    for command in (
        ["service", "rabbitmq-server", "start"],
        ["systemctl", "start", "rabbitmq-server"],
    ):
        if shutil.which(command[0]):
            subprocess.run(command, check=False, capture_output=True, timeout=120)
            return


REDIS_URL = "redis://127.0.0.1:6379/11"
"""The Redis broker of the tests: database 11 of the server on 127.0.0.1:6379 (each cluster
still has its own queue names)."""
REDIS_SERVER = Path("/usr/bin/redis-server")


def redis_reachable(url: str = REDIS_URL, timeout_s: float = 3.0) -> bool:
    """Whether a Redis server answers PING at ``url``."""
    client = redis.Redis.from_url(url, socket_connect_timeout=timeout_s, socket_timeout=timeout_s)
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False
    finally:
        client.close()


def start_redis() -> None:
    """Start the Debian ``redis-server`` service; where there is no service manager, run
    ``redis-server`` on 127.0.0.1:6379 as a daemon."""
    for command in (["service", "redis-server", "start"], ["systemctl", "start", "redis-server"]):
        if shutil.which(command[0]):
            done = subprocess.run(command, check=False, capture_output=True, timeout=60)
            if done.returncode == 0:
                return
    if REDIS_SERVER.exists():
        subprocess.run(
            [str(REDIS_SERVER), "--bind", "127.0.0.1", "--port", "6379", "--daemonize", "yes"],
            check=False,
            capture_output=True,
            timeout=60,
        )


def forget_redis_unacked(url: str, queue: str) -> int:
    """Delete the messages of ``queue`` that Redis keeps aside for their visibility timeout
    (taken by a worker that died), so that no later run restores them; how many."""
    client = redis.Redis.from_url(url)
    try:
        stale = [
            tag
            for tag, payload in client.hgetall("unacked").items()
            if json.loads(payload)[2] == queue  # [message, exchange, routing key]
        ]
        if stale:
            client.hdel("unacked", *stale)
            client.zrem("unacked_index", *stale)
        return len(stale)
    finally:
        client.close()


RABBITMQ_SERVER = Path("/usr/sbin/rabbitmq-server")
RABBITMQCTL = Path("/usr/sbin/rabbitmqctl")


def free_port() -> int:
    """A TCP port nobody listens on right now (127.0.0.1)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class PrivateRabbitMQ:
    """A RabbitMQ node of the test's own (own name, ports and data folder), restartable
    without touching the system's broker."""

    folder: Path
    node: str = field(default_factory=lambda: f"dntest{uuid.uuid4().hex[:8]}@localhost")
    port: int = field(default_factory=free_port)
    dist_port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.port}//"

    def _env(self) -> dict[str, str]:
        return {
            **os.environ,
            "RABBITMQ_NODENAME": self.node,
            "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
            "RABBITMQ_NODE_PORT": str(self.port),
            "RABBITMQ_DIST_PORT": str(self.dist_port),
            "RABBITMQ_MNESIA_BASE": str(self.folder / "mnesia"),
            "RABBITMQ_LOG_BASE": str(self.folder / "log"),
            "RABBITMQ_CONFIG_FILE": str(self.folder / "rabbitmq"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(self.folder / "enabled_plugins"),
            "RABBITMQ_FEATURE_FLAGS_FILE": str(self.folder / "mnesia" / "feature_flags"),
            "RABBITMQ_PID_FILE": str(self.folder / "rabbitmq.pid"),
        }

    def prepare(self) -> None:
        """Write its configuration; the Debian scripts run the node as user ``rabbitmq``,
        so the folder is handed to that user when we are root."""
        for name in ("mnesia", "log"):
            (self.folder / name).mkdir(parents=True, exist_ok=True)
        (self.folder / "enabled_plugins").write_text("[].\n")
        (self.folder / "rabbitmq.conf").write_text(
            f"listeners.tcp.default = 127.0.0.1:{self.port}\n"
            # longer than any job of the tests (deploy/rabbitmq.conf: longer than jobs.timeout_s)
            "consumer_timeout = 3600000\n"
        )
        if os.geteuid() == 0:
            for path in [self.folder, *self.folder.rglob("*")]:
                shutil.chown(path, "rabbitmq", "rabbitmq")
            self.folder.chmod(0o755)

    def start(self, timeout_s: float = 90.0) -> None:
        log = (self.folder / "server.out").open("ab")
        self.process = subprocess.Popen(
            [str(RABBITMQ_SERVER)], env=self._env(), stdout=log, stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + timeout_s
        while not broker_reachable(self.url, timeout_s=2.0):
            if self.process.poll() is not None or time.monotonic() > deadline:
                out = (self.folder / "server.out").read_text(errors="replace")[-2000:]
                raise RuntimeError(f"private RabbitMQ node did not start: {out}")
            time.sleep(0.5)

    def stop(self) -> None:
        """Shut the node down (``rabbitmqctl shutdown``: waits until it has stopped)."""
        subprocess.run(
            [str(RABBITMQCTL), "-n", self.node, "shutdown"],
            env=self._env(),
            check=False,
            capture_output=True,
            timeout=60,
        )
        if self.process is not None:
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@contextmanager
def private_rabbitmq() -> Iterator[PrivateRabbitMQ]:
    """A private RabbitMQ node on free ports, stopped and deleted afterwards."""
    folder = Path(tempfile.mkdtemp(prefix="dicomnode-rabbitmq-"))
    broker = PrivateRabbitMQ(folder)
    try:
        broker.prepare()
        broker.start()
        yield broker
    finally:
        broker.stop()
        shutil.rmtree(folder, ignore_errors=True)


@dataclass
class Cluster:
    """Node dispatcher, workers and the audit database of one test."""

    root: Path
    db_url: str
    broker_url: str = BROKER_URL
    queue: str = field(default_factory=lambda: f"dn-test-{uuid.uuid4().hex[:10]}")
    jobs: Mapping[str, Any] = field(default_factory=dict)
    """Overrides of the jobs section (node and workers)."""
    workers: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.share = self.root / "share"
        (self.share / "spool").mkdir(parents=True, exist_ok=True)
        self.audit = AuditLog(
            create_audit_engine(self.db_url), max_job_attempts=self.jobs_config().max_attempts
        )
        self.runner = CeleryJobRunner(self.jobs_config(), self.audit)
        self._series = 0

    # --- configuration -------------------------------------------------------------------

    def jobs_config(self, **changes: Any) -> JobsConfig:
        values: dict[str, Any] = {
            "backend": "celery",
            "broker_url": self.broker_url,
            "queue": self.queue,
            "lease_s": 3.0,
            "handler": "fixed_cost:handler",
            "work_dir": self.root / "work",
            "max_attempts": 3,
            "poll_interval_s": 0.3,
            "timeout_s": 600.0,
            "small_study_instances": 0,
            **self.jobs,
            **changes,
        }
        return JobsConfig(**values)

    def write_config(self, name: str, **jobs: Any) -> Path:
        config = {
            "log_level": "INFO",
            "audit": {"url": self.db_url, "upgrade_on_start": False},
            "spool": {"path": str(self.share / "spool")},
            "jobs": self.jobs_config(**jobs).model_dump(mode="json"),
            "web": {"enabled": False},
        }
        path = self.root / f"{name}.yaml"
        path.write_text(yaml.safe_dump(config))
        return path

    # --- workers -------------------------------------------------------------------------

    def start_worker(
        self,
        name: str,
        *,
        handler: str = "fixed_cost:handler",
        job_s: float = 1.0,
        cpu: bool = False,
        concurrency: int = 1,
        env: Mapping[str, str] | None = None,
    ) -> subprocess.Popen[bytes]:
        """Start ``dicomnode worker`` named ``name`` with its own work folder."""
        config = self.write_config(name, handler=handler, work_dir=str(self.root / f"work-{name}"))
        environment = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join([str(REPO), str(HERE)]),
            "DICOMNODE_TEST_JOB_S": str(job_s),
            "DICOMNODE_TEST_JOB_CPU": "1" if cpu else "0",
            **(env or {}),
        }
        log = (self.root / f"{name}.log").open("ab")
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "dicomnode",
                "worker",
                "--config",
                str(config),
                "--name",
                name,
                "--concurrency",
                str(concurrency),
            ],
            cwd=self.root,
            env=environment,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: kill -9 takes the whole worker
        )
        self.workers[name] = process
        return process

    def wait_ready(self, names: Iterable[str], timeout_s: float = 120.0) -> None:
        """Wait until each worker has recorded itself in ``job_workers``."""
        wanted = set(names)
        deadline = time.monotonic() + timeout_s
        while True:
            seen = {row.name for row in self.audit.job_workers()}
            if wanted <= seen:
                return
            for name in wanted:
                process = self.workers[name]
                if process.poll() is not None:
                    raise AssertionError(f"worker {name} exited: {self.log(name)[-3000:]}")
            assert time.monotonic() < deadline, f"workers {wanted - seen} not ready"
            time.sleep(0.3)

    def log(self, name: str) -> str:
        path = self.root / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def skipped_messages(self) -> int:
        """Messages the workers acknowledged without work (job ended, or running elsewhere
        under a renewed claim), from their logs."""
        phrases = ("acknowledged without work", "nothing to do here")
        return sum(self.log(name).count(phrase) for name in self.workers for phrase in phrases)

    def kill(self, name: str) -> None:
        """``kill -9`` the worker's whole process group (main process and pool)."""
        process = self.workers[name]
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()

    def stop_workers(self) -> None:
        for process in self.workers.values():
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.workers.values():
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()

    def delete_queues(self) -> None:
        with Connection(self.broker_url, connect_timeout=5) as connection:
            channel = connection.default_channel
            for name in queue_names(self.jobs_config()):
                channel.queue_delete(name)
            channel.exchange_delete(self.queue)

    # --- jobs ----------------------------------------------------------------------------

    def _series_uid(self) -> tuple[str, str]:
        self._series += 1
        study = f"1.2.826.0.1.3680043.10.1234.{uuid.uuid4().int % 10**12}"
        return study, f"{study}.{self._series}"

    def add_fixed_job(self, instances: int = 2, share: Path | None = None) -> int:
        """Record ``instances`` small stored files of a new series and queue its job."""
        study, series = self._series_uid()
        folder = (share or self.share) / "spool" / study / series
        folder.mkdir(parents=True)
        for number in range(instances):
            path = folder / f"{number}.fake"
            path.write_bytes(b"not DICOM: the fixed-cost handler does not read it")
            self.audit.record_instance(
                association_id=None,
                sop_instance_uid=f"{series}.{number}",
                sop_class_uid=CT_IMAGE_STORAGE,
                transfer_syntax_uid=EXPLICIT_VR_LITTLE_ENDIAN,
                study_instance_uid=study,
                series_instance_uid=series,
                path=str(path),
                size_bytes=path.stat().st_size,
                status="stored",
                reason=None,
                header={"Modality": "CT", "PatientID": "TEST"},
            )
        return self.audit.create_job(
            study_instance_uid=study, series_instance_uids=[series], calling_ae=None
        )

    def add_study_job(self, dicom: Path) -> int:
        """Copy a DICOM study onto the share, record its instances and queue one job."""
        series: set[str] = set()
        study = ""
        for source in sorted(dicom.rglob("*.dcm")):
            header = read_header(source)
            study = header.study_instance_uid
            target = (
                self.share
                / "spool"
                / study
                / header.series_instance_uid
                / f"{header.sop_instance_uid}.dcm"
            )
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target)
            series.add(header.series_instance_uid)
            self.audit.record_instance(
                association_id=None,
                sop_instance_uid=header.sop_instance_uid,
                sop_class_uid=header.sop_class_uid,
                transfer_syntax_uid=header.transfer_syntax_uid,
                study_instance_uid=study,
                series_instance_uid=header.series_instance_uid,
                path=str(target),
                size_bytes=target.stat().st_size,
                status="stored",
                reason=None,
                header=header.fields,
            )
        return self.audit.create_job(
            study_instance_uid=study, series_instance_uids=sorted(series), calling_ae=None
        )

    def wait_final(self, job_ids: Iterable[int], timeout_s: float) -> dict[int, JobDetail]:
        """Wait until every job is final; their audit chains."""
        ids = list(job_ids)
        deadline = time.monotonic() + timeout_s
        while True:
            details = {job_id: self.audit.get_job(job_id) for job_id in ids}
            if all(detail.job.state.final for detail in details.values()):
                return details
            left = {i: d.job.state.value for i, d in details.items() if not d.job.state.final}
            if time.monotonic() > deadline:
                logs = "\n".join(self.log(name)[-2000:] for name in self.workers)
                raise AssertionError(f"jobs not final in {timeout_s} s: {left}\n{logs}")
            time.sleep(0.3)

    def wait_running(self, worker_prefix: str, timeout_s: float = 60.0) -> int:
        """Wait until a job is running on the worker named ``worker_prefix``; its id."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            for summary in self.audit.list_jobs(state=JobState.RUNNING.value, limit=100):
                if (summary.job.worker or "").startswith(f"{worker_prefix}/"):
                    return summary.job.id
            time.sleep(0.1)
        raise AssertionError(f"no job ran on {worker_prefix} within {timeout_s} s")

    def close(self) -> None:
        self.runner.stop()
        self.stop_workers()
        with contextlib.suppress(Exception):  # the broker may be gone (a private node)
            self.delete_queues()
            if is_redis(self.broker_url):
                forget_redis_unacked(self.broker_url, self.queue)
        self.audit.dispose()


@contextmanager
def running_cluster(
    root: Path, db_url: str, *, dispatching: bool = True, **kwargs: Any
) -> Iterator[Cluster]:
    """A cluster whose dispatcher runs (``dispatching``; else the test starts
    ``cluster.runner``); workers, queues and connections end afterwards."""
    cluster = Cluster(root, db_url, **kwargs)
    try:
        if dispatching:
            cluster.runner.start()
        yield cluster
    finally:
        cluster.close()


def kill_first_mid_job(
    cluster: Cluster, names: tuple[str, str], jobs: int, job_s: float
) -> tuple[dict[int, JobDetail], int, int]:
    """Start two fixed-cost workers, queue ``jobs`` jobs of ``job_s`` seconds and ``kill -9``
    the first worker while it runs one; returns the jobs' final audit chains, the killed
    job's id and the messages acknowledged without work."""
    for name in names:
        cluster.start_worker(name, job_s=job_s)
    cluster.wait_ready(names)
    ids = [cluster.add_fixed_job() for _ in range(jobs)]
    cluster.runner.notify()
    victim = cluster.wait_running(names[0])
    cluster.kill(names[0])
    details = cluster.wait_final(ids, timeout_s=120)
    return details, victim, cluster.skipped_messages()


def check_rerun_after_loss(detail: JobDetail, lost_on: str, rerun_on: str) -> None:
    """Check one audit chain: attempt 1 lost with worker ``lost_on``, attempt 2 finished on
    ``rerun_on``, and only the second attempt's outputs recorded.

    Raises
    ------
    AssertionError
        The chain is another one.
    """
    assert detail.job.attempts == 2, detail.job
    assert (detail.job.worker or "").startswith(f"{rerun_on}/"), detail.job.worker
    chain = [(e.attempt, e.stage) for e in detail.events if e.stage in ("claimed", "finished")]
    assert chain == [(1, "claimed"), (1, "finished"), (2, "claimed"), (2, "finished")], chain
    lost = detail.events[[e.stage for e in detail.events].index("finished")].message
    assert f"lost: worker {lost_on}/" in lost, lost
    assert detail.outputs and {o.version for o in detail.outputs} == {2}, detail.outputs


def write_small_study(folder: Path, seed: int) -> Path:
    """Write a synthetic study of one portal venous 5 mm series (a few seconds of the demo
    pipeline on 2 cores); returns its ``dicom`` folder."""
    series = (SeriesSpec(phase=Phase.PORTAL_VENOUS, slice_thickness_mm=5.0, description="PV 5mm"),)
    write_study(folder, StudySpec(seed=seed, series=series), volumes=False)
    return folder / "dicom"


@dataclass(frozen=True)
class Figures:
    """What the failure tests report: jobs, attempts, redeliveries, duplicates."""

    jobs: int
    attempts: int
    lost_attempts: int
    taken_over: int
    duplicates: int

    def __str__(self) -> str:
        return (
            f"jobs={self.jobs} attempts={self.attempts} reruns={self.attempts - self.jobs} "
            f"lost_attempts={self.lost_attempts} "
            f"redeliveries_taken_over={self.taken_over} duplicates={self.duplicates}"
        )


def figures(details: Mapping[int, JobDetail]) -> Figures:
    """Count attempts, lost attempts, take-overs and duplicate results over audit chains.

    A duplicate is any output recorded beyond one per SOP Instance UID, any final-version
    output set holding a kind twice, or a SOP Instance UID recorded for two jobs."""
    duplicates = 0
    owners: dict[str, int] = {}
    for job_id, detail in details.items():
        uids = [output.sop_instance_uid for output in detail.outputs]
        duplicates += len(uids) - len(set(uids))
        final = [o for o in detail.outputs if o.version == detail.job.attempts]
        kinds = [o.kind for o in final]
        duplicates += len(kinds) - len(set(kinds))
        for uid in set(uids):
            if owners.setdefault(uid, job_id) != job_id:
                duplicates += 1
    events = [event for detail in details.values() for event in detail.events]
    return Figures(
        jobs=len(details),
        attempts=sum(detail.job.attempts for detail in details.values()),
        lost_attempts=sum(1 for e in events if e.stage == "finished" and " lost: " in e.message),
        taken_over=sum(1 for e in events if e.stage == "claimed" and "taken over" in e.message),
        duplicates=duplicates,
    )
