"""``dicomnode worker``: a Celery worker that runs the node's jobs on a worker machine.

Each pool process (prefork, ``--concurrency`` of them: one per GPU) prepares the configured
handler once when it starts (:mod:`dicomnode.jobs.warm`: for the pipeline, models loaded) and
keeps it warm between jobs: the same handler code and the same attempt wrapper as the local
backend's warm workers (:mod:`dicomnode.jobs.worker`). For each message (a job id) it:

1. claims the job in the audit database (:meth:`~dicomnode.audit.claim_records.ClaimRecords.
   claim_job`); a job already ended is acknowledged without work; one running under a live
   claim is waited for until that claim lapses (a lost worker: taken over) or is renewed (its
   worker is alive: nothing to do here);
2. checks that the job's instance files are visible here (the shared storage): if not, the
   attempt fails with that reason, recorded in the audit database;
3. runs the attempt in a fresh folder under ``jobs.work_dir`` while a thread renews the claim
   every ``lease_s / 3`` seconds;
4. records the events, outputs and outcome in one transaction, only while its claim stands.

The main process records the worker in ``job_workers`` and beats every few seconds.
"""

from __future__ import annotations

import logging
import os
import shutil
import socket
import threading
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from celery import Celery
from celery.signals import worker_process_init, worker_ready, worker_shutdown
from sqlalchemy.exc import SQLAlchemyError

from dicomnode.audit.engine import create_audit_engine
from dicomnode.audit.errors import JobStateError
from dicomnode.audit.log import AuditLog
from dicomnode.audit.rows import ClaimStatus, JobRow, OutputKind
from dicomnode.config import DicomNodeConfig
from dicomnode.jobs.celery_app import TASK_NAME, create_celery_app
from dicomnode.jobs.handler import JobOutcome, JobSpec, stage_events
from dicomnode.jobs.local import DELIVERED_OUTCOMES
from dicomnode.jobs.outputs import OutputError, identify_output
from dicomnode.jobs.worker import _Prepared, _run, _with_worker

log = logging.getLogger(__name__)

HEARTBEAT_S = 5.0
"""Seconds between two heartbeats of a worker (at most; ``lease_s / 3`` when shorter)."""
DB_RETRY_S = 5.0
"""Seconds before a message is tried again when the audit database cannot be reached."""


def storage_problem(paths: Sequence[Path], worker: str) -> str | None:
    """Why the job's instance files cannot be used on this worker, or None when they can."""
    if not paths:
        return f"no instance files are recorded for the job (worker {worker})"
    unreadable = [path for path in paths if not os.access(path, os.R_OK)]
    if not unreadable:
        return None
    return (
        f"shared storage not visible on worker {worker}: {len(unreadable)} of {len(paths)} "
        f"instance files cannot be read (first: {unreadable[0]}); mount the node's spool at "
        "the same path on every worker (deploy/SITE.md, scale-out)"
    )


class _LeaseKeeper:
    """Renews a claim every ``lease_s / 3`` seconds while an attempt runs."""

    def __init__(self, audit: AuditLog, job: JobRow, worker: str, lease_s: float) -> None:
        self._audit, self._job, self._worker, self._lease_s = audit, job, worker, lease_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._renew, name="job-lease", daemon=True)

    def __enter__(self) -> _LeaseKeeper:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _renew(self) -> None:
        while not self._stop.wait(self._lease_s / 3):
            try:
                held = self._audit.renew_lease(
                    self._job.id,
                    attempt=self._job.attempts,
                    worker=self._worker,
                    lease_s=self._lease_s,
                )
            except SQLAlchemyError as exc:
                log.warning("job %d: claim not renewed (%s)", self._job.id, exc)
                continue
            if not held:
                log.warning(
                    "job %d: claim taken over; this attempt's outcome will be dropped", self._job.id
                )
                return


class WorkerContext:
    """What a worker's processes share: configuration, name, queues; and, per process, the
    audit database connection and the prepared handler.

    Parameters
    ----------
    config : DicomNodeConfig
        The worker's configuration (audit database, jobs, pipeline).
    name : str
        The worker's name (``job_workers.name``; jobs record ``<name>/<pid>``).
    queues : sequence of str
        The broker queues it consumes.
    concurrency : int
        Pool processes.
    """

    def __init__(
        self, config: DicomNodeConfig, name: str, queues: Sequence[str], concurrency: int
    ) -> None:
        self.config = config
        self.name = name
        self.queues = list(queues)
        self.concurrency = concurrency
        self._audit: AuditLog | None = None
        self._prepared: _Prepared | None = None
        self._job_number = 0
        self._beat_stop = threading.Event()

    def _open_audit(self) -> AuditLog:
        audit = self.config.audit
        engine = create_audit_engine(
            audit.url, pool_size=2, max_overflow=2, busy_timeout_s=audit.busy_timeout_s
        )
        return AuditLog(engine, max_job_attempts=self.config.jobs.max_attempts)

    @property
    def audit(self) -> AuditLog:
        """This process's audit database (opened on first use)."""
        if self._audit is None:
            self._audit = self._open_audit()
        return self._audit

    # --- signals -------------------------------------------------------------------------

    def process_init(self, **_: Any) -> None:
        """A pool process started: fresh database connections, handler prepared (once)."""
        if self._audit is not None:
            self._audit.engine.dispose(close=False)  # the parent's connections stay its own
            self._audit = None
        self._prepared = _Prepared(self.config.jobs.handler, warm=True)
        try:
            self._prepared.prepare(self.config.pipeline)
        except Exception:  # each job tries again and reports the failure as its outcome
            log.exception("the job handler could not be prepared")

    def ready(self, **_: Any) -> None:
        """The worker is consuming: record it and start its heartbeat."""
        self.audit.worker_started(self.name, queues=self.queues, concurrency=self.concurrency)
        threading.Thread(target=self._beat, name="worker-heartbeat", daemon=True).start()
        log.info("worker %s consuming %s", self.name, ", ".join(self.queues))

    def shutdown(self, **_: Any) -> None:
        """The worker stops: end the heartbeat."""
        self._beat_stop.set()

    def _beat(self) -> None:
        interval = min(HEARTBEAT_S, self.config.jobs.lease_s / 3)
        while not self._beat_stop.wait(interval):
            try:
                self.audit.worker_heartbeat(
                    self.name, queues=self.queues, concurrency=self.concurrency
                )
            except SQLAlchemyError as exc:
                log.warning("worker heartbeat not recorded (%s)", exc)

    # --- the task ------------------------------------------------------------------------

    def run(self, job_id: int) -> str:
        """Claim and run one attempt of job ``job_id``; returns what happened (a word)."""
        worker = f"{self.name}/{os.getpid()}"
        job = self._claim(job_id, worker)
        if job is None:
            return "skipped"
        outcome, work_dir = self._attempt(job, worker)
        return self._record(job, worker, outcome, work_dir)

    def _claim(self, job_id: int, worker: str) -> JobRow | None:
        """Claim the job; wait while another worker's claim may still lapse (lost worker)."""
        lease_s = self.config.jobs.lease_s
        seen_expiry = None
        deadline = time.monotonic() + 2 * lease_s
        while True:
            claim = self.audit.claim_job(job_id, worker, lease_s=lease_s)
            if claim.status is ClaimStatus.CLAIMED:
                if claim.redelivered:
                    log.warning("job %d: taken over from a lost worker", job_id)
                return claim.job
            if claim.status is ClaimStatus.DONE:
                log.info(
                    "job %d is %s: message acknowledged without work", job_id, claim.job.state.value
                )
                return None
            expiry = claim.lease_expires_at
            renewed = seen_expiry is not None and expiry is not None and expiry > seen_expiry
            if renewed or time.monotonic() > deadline:
                log.info(
                    "job %d runs on %s (claim renewed): nothing to do here",
                    job_id,
                    claim.job.worker,
                )
                return None
            seen_expiry = expiry if seen_expiry is None else seen_expiry
            if expiry is None:
                time.sleep(0.5)  # locked by a concurrent claim
            else:
                left = (expiry - datetime.now(UTC)).total_seconds()
                time.sleep(min(max(left, 0.0) + 0.5, lease_s))

    def _attempt(self, job: JobRow, worker: str) -> tuple[JobOutcome, Path]:
        """Run one attempt of a claimed job (its failure is the outcome, never an exception)."""
        jobs = self.config.jobs
        work_dir = jobs.work_dir.resolve() / f"job-{job.id}" / f"attempt-{job.attempts}"
        with _LeaseKeeper(self.audit, job, worker, jobs.lease_s):
            paths = [Path(path) for path in self.audit.job_instance_paths(job.id)]
            problem = storage_problem(paths, self.name)
            if problem is not None:
                log.error("job %d: %s", job.id, problem)
                return JobOutcome(state="failed", reason=problem), work_dir
            try:
                if work_dir.exists():
                    shutil.rmtree(work_dir)
                work_dir.mkdir(parents=True)
            except OSError as exc:
                reason = f"cannot create the work folder on worker {self.name}: {exc}"
                return JobOutcome(state="failed", reason=reason), work_dir
            spec = JobSpec(
                job_id=job.id,
                study_instance_uid=job.study_instance_uid,
                series_instance_uids=list(job.series_instance_uids),
                instance_paths=paths,
                work_dir=work_dir,
                calling_ae=job.calling_ae,
                pipeline=self.config.pipeline,
            )
            if self._prepared is None:
                self._prepared = _Prepared(jobs.handler, warm=True)
            self._job_number += 1
            ahead = self._prepared.ready
            outcome, collector = _run(self._prepared, spec)
            text = _with_worker(
                outcome,
                job_number=self._job_number,
                warm=True,
                ahead=ahead,
                prepared=self._prepared,
                collector=collector,
            )
            return JobOutcome.from_json(text), work_dir

    def _record(self, job: JobRow, worker: str, outcome: JobOutcome, work_dir: Path) -> str:
        outputs: list[tuple[str, str, str, OutputKind]] = []
        if outcome.state in DELIVERED_OUTCOMES:
            try:
                for path in outcome.output_paths:
                    found = identify_output(path, work_dir)
                    outputs.append(
                        (str(found.path), found.sop_instance_uid, found.sop_class_uid, found.kind)
                    )
            except OutputError as exc:
                outputs = []
                outcome = JobOutcome(state="failed", reason=str(exc), result=outcome.result)
        result = dict(outcome.result)
        result.setdefault("worker", {})["name"] = worker
        try:
            state = self.audit.finish_claimed_job(
                job.id,
                attempt=job.attempts,
                worker=worker,
                state=outcome.state,
                reason=outcome.reason,
                result=result,
                events=stage_events(outcome.result),
                outputs=outputs,
            )
        except JobStateError as exc:
            log.warning("%s; its outcome is dropped", exc)
            return "fenced"
        log.info("job %d attempt %d ended: %s", job.id, job.attempts, state.value)
        return state.value


def build_worker_app(
    config: DicomNodeConfig, *, name: str, queues: Sequence[str], concurrency: int
) -> Celery:
    """The Celery application of a worker, with its task and signal handlers registered."""
    app = create_celery_app(config.jobs)
    context = WorkerContext(config, name, queues, concurrency)

    @app.task(name=TASK_NAME, bind=True)
    def run_job(task: Any, job_id: int) -> str:
        try:
            return context.run(int(job_id))
        except SQLAlchemyError as exc:
            log.warning("job %s: audit database unavailable (%s); message retried", job_id, exc)
            raise task.retry(countdown=DB_RETRY_S, max_retries=None) from exc

    worker_process_init.connect(context.process_init, weak=False)
    worker_ready.connect(context.ready, weak=False)
    worker_shutdown.connect(context.shutdown, weak=False)
    return app


def default_worker_name() -> str:
    """The host name (a worker machine runs one ``dicomnode worker``)."""
    return socket.gethostname()
