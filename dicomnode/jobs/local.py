"""Run jobs in worker processes on this machine (the embedded default backend).

One scheduler thread claims queued jobs from the audit database and runs each attempt in a
worker process (``spawn`` or ``forkserver``, never ``fork``), at most ``workers`` at a time.
With ``warm_workers`` (the default) each slot has a long-lived process, started with the
runner, that prepares the handler once (imports, models loaded: :mod:`dicomnode.jobs.warm`)
and runs the attempts sent to it one after another (:mod:`dicomnode.jobs.pool`); it is
replaced after ``max_jobs_per_worker`` attempts. Otherwise each attempt gets a fresh process.
A crash of the job's process (an exception, ``os._exit``, SIGKILL, running out of memory)
cannot take the service down: the attempt ends as ``failed`` with the reason (a warm worker
is replaced by a fresh one), the job is claimed again while it has attempts left, then
dead-lettered. A job that runs past ``timeout_s`` has its process killed (and replaced).

Exactly once: a job is ``running`` in the database while its process runs. When the service
dies (``kill -9``) its worker processes exit with it (they watch the parent), and the next
start moves this node's ``running`` jobs back to ``queued`` (``dead_lettered`` when out of
attempts). Each attempt works in its own folder and its outputs are recorded with the
attempt number; only the outputs of the attempt that the database marks ``succeeded`` are
ever planned for delivery, so an interrupted attempt that had already written or recorded
outputs never causes a second set to be sent.
"""

from __future__ import annotations

import logging
import multiprocessing
import multiprocessing.connection
import shutil
import signal
import socket
import threading
import time
from dataclasses import dataclass
from multiprocessing.context import ForkServerContext, SpawnContext
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any, cast

from sqlalchemy.exc import SQLAlchemyError

from dicomnode.audit.errors import JobStateError
from dicomnode.audit.ports import JobQueue
from dicomnode.audit.rows import JobRow
from dicomnode.jobs.config import JobsConfig
from dicomnode.jobs.handler import JobOutcome, JobSpec, stage_events
from dicomnode.jobs.outputs import OutputError, identify_output
from dicomnode.jobs.pool import WarmWorker
from dicomnode.jobs.runner import JobFinished
from dicomnode.jobs.worker import run_attempt
from pipeline.config import PipelineConfig

log = logging.getLogger(__name__)

OUTCOME_FILE = "outcome.json"
"""File in an attempt's folder through which the worker hands its outcome back."""
DELIVERED_OUTCOMES = ("succeeded", "rejected")
"""Outcomes whose output files are recorded for delivery (results, rejection reports)."""


@dataclass
class _Attempt:
    job: JobRow
    process: BaseProcess
    work_dir: Path
    started: float
    worker: WarmWorker | None = None
    """The warm worker running it (None: a process of its own)."""
    answer: str | None = None
    """The outcome JSON the warm worker answered with."""
    killed_reason: str | None = None


def _exit_reason(exitcode: int | None) -> str:
    if exitcode is not None and exitcode < 0:
        try:
            name = signal.Signals(-exitcode).name
        except ValueError:
            name = f"signal {-exitcode}"
        return f"worker process killed by {name}"
    return f"worker process exited with status {exitcode} without an outcome"


class LocalJobRunner:
    """A supervised pool of worker processes fed from the audit database's job table.

    Parameters
    ----------
    config : JobsConfig
        Workers, handler, folders, time limits.
    audit : JobQueue
        The audit database (the queue).
    pipeline : PipelineConfig
        The pipeline configuration every job runs with (handed to the worker in its spec).
    node_name : str, optional
        Stable name of this node (default: the host name); jobs claimed here are recorded
        with worker ``<node>/<pid>`` and recovered by the node's next start.
    on_finished : callable, optional
        Called with (job id, stored state) after each attempt ends.
    """

    def __init__(
        self,
        config: JobsConfig,
        audit: JobQueue,
        *,
        pipeline: PipelineConfig,
        node_name: str | None = None,
        on_finished: JobFinished | None = None,
    ) -> None:
        self._config = config
        self._audit = audit
        self._pipeline = pipeline
        self._node = node_name or socket.gethostname()
        self._worker = f"{self._node}/{multiprocessing.current_process().pid}"
        self._on_finished = on_finished
        self._context = cast(
            SpawnContext | ForkServerContext, multiprocessing.get_context(config.start_method)
        )
        if isinstance(self._context, ForkServerContext):
            # Import the handler's module (e.g. torch and the pipeline) once, in the fork
            # server, so that each job's process starts in milliseconds.
            handler_module = config.handler.partition(":")[0]
            self._context.set_forkserver_preload(
                ["__main__", run_attempt.__module__, handler_module]
            )
        self._active: dict[int, _Attempt] = {}
        self._idle: list[WarmWorker] = []
        self._unrecorded: list[tuple[JobRow, Path, JobOutcome]] = []
        self._stopping = threading.Event()
        self._wake_reader, self._wake_writer = multiprocessing.Pipe(duplex=False)
        self._wake_lock = threading.Lock()
        self._thread: threading.Thread | None = None

    @property
    def worker_name(self) -> str:
        """The name jobs claimed by this runner are recorded with."""
        return self._worker

    def start(self) -> None:
        """Recover this node's interrupted jobs and start the scheduler thread."""
        if self._thread is not None:
            raise RuntimeError("runner already started")
        recovered = self._audit.requeue_stale_running_jobs(worker_prefix=f"{self._node}/")
        if recovered:
            log.warning("recovered %d job(s) interrupted by a previous stop", len(recovered))
        if self._config.warm_workers:
            self._idle = [self._new_worker() for _ in range(self._config.workers)]
        self._thread = threading.Thread(target=self._loop, name="job-runner", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop claiming; wait ``stop_grace_s`` for running jobs, kill the rest, requeue them."""
        if self._thread is None:
            return
        self._stopping.set()
        self.notify()
        self._thread.join()
        self._thread = None

    def notify(self) -> None:
        """Look for queued jobs now."""
        with self._wake_lock:
            self._wake_writer.send_bytes(b"!")

    # --- scheduler thread ----------------------------------------------------------------

    def _loop(self) -> None:
        while not self._stopping.is_set():
            try:
                self._record_pending()
                self._reap()
                self._fill()
            except SQLAlchemyError:
                log.exception("audit database unavailable; the job runner retries")
            except Exception:  # the scheduler thread must survive anything
                log.exception("job runner error; it carries on")
            self._wait(self._config.poll_interval_s)
        self._drain()

    def _fill(self) -> None:
        while len(self._active) < self._config.workers and not self._stopping.is_set():
            job = self._audit.claim_next_job(self._worker)
            if job is None:
                return
            self._launch(job)

    def _new_worker(self) -> WarmWorker:
        return WarmWorker(
            self._context,
            self._config.handler,
            self._pipeline,
            logging.getLogger().getEffectiveLevel(),
            name="dicomnode-job-worker",
        )

    def _replace(self, worker: WarmWorker) -> None:
        """End a warm worker and start its successor (unless the service stops)."""
        worker.kill()
        if not self._stopping.is_set():
            self._idle.append(self._new_worker())

    def _idle_worker(self) -> WarmWorker:
        """A live idle warm worker (one that died while idle is dropped), or a new one."""
        while self._idle:
            worker = self._idle.pop(0)
            if worker.process.is_alive():
                return worker
            log.warning(
                "warm job worker %s ended while idle (%s)",
                worker.pid,
                _exit_reason(worker.process.exitcode),
            )
            worker.kill()
        return self._new_worker()

    def _launch(self, job: JobRow) -> None:
        work_dir = self._config.work_dir.resolve() / f"job-{job.id}" / f"attempt-{job.attempts}"
        try:
            if work_dir.exists():
                shutil.rmtree(work_dir)
            work_dir.mkdir(parents=True)
            spec = JobSpec(
                job_id=job.id,
                study_instance_uid=job.study_instance_uid,
                series_instance_uids=list(job.series_instance_uids),
                instance_paths=[Path(p) for p in self._audit.job_instance_paths(job.id)],
                work_dir=work_dir,
                calling_ae=job.calling_ae,
                pipeline=self._pipeline,
            )
            if self._config.warm_workers:
                attempt = self._send(job, spec)
            else:
                process = self._context.Process(
                    target=run_attempt,
                    args=(
                        self._config.handler,
                        spec,
                        work_dir / OUTCOME_FILE,
                        logging.getLogger().getEffectiveLevel(),
                    ),
                    name=f"dicomnode-job-{job.id}",
                )
                process.start()
                attempt = _Attempt(job, process, work_dir, time.monotonic())
        except OSError as exc:
            failed = JobOutcome(state="failed", reason=f"cannot start: {exc}")
            self._unrecorded.append((job, work_dir, failed))
            return
        log.info("job %d attempt %d started (pid %s)", job.id, job.attempts, attempt.process.pid)
        self._active[job.id] = attempt

    def _send(self, job: JobRow, spec: JobSpec) -> _Attempt:
        """Hand the attempt to an idle warm worker."""
        worker = self._idle_worker()
        try:
            worker.send(spec, spec.work_dir / OUTCOME_FILE)
        except OSError:
            self._replace(worker)
            raise
        return _Attempt(job, worker.process, spec.work_dir, time.monotonic(), worker=worker)

    def _wait(self, timeout_s: float) -> None:
        handles: list[Any] = [self._wake_reader]
        for attempt in self._active.values():
            if attempt.worker is not None:
                handles += attempt.worker.handles()
            else:
                handles.append(attempt.process.sentinel)
        if self._config.timeout_s is not None and self._active:
            oldest = min(attempt.started for attempt in self._active.values())
            left = oldest + self._config.timeout_s - time.monotonic()
            timeout_s = max(0.0, min(timeout_s, left))
        ready = multiprocessing.connection.wait(handles, timeout=timeout_s)
        if self._wake_reader in ready:
            while self._wake_reader.poll():
                self._wake_reader.recv_bytes()

    def _reap(self) -> None:
        now = time.monotonic()
        for job_id, attempt in list(self._active.items()):
            if attempt.worker is not None and attempt.answer is None:
                attempt.answer = attempt.worker.answer()
            limit = self._config.timeout_s
            running = attempt.answer is None and attempt.process.is_alive()
            if running and limit is not None and now - attempt.started > limit:
                attempt.killed_reason = f"timed out after {limit:g} s"
                attempt.process.kill()
                attempt.process.join()
            elif running:
                continue
            del self._active[job_id]
            self._release(attempt)
            self._unrecorded.append((attempt.job, attempt.work_dir, self._outcome(attempt)))
        self._record_pending()

    def _release(self, attempt: _Attempt) -> None:
        """After an attempt: its own process is reaped; its warm worker goes back to the idle
        ones, or is replaced when it died, was killed or has run its share of jobs."""
        worker = attempt.worker
        if worker is None:
            attempt.process.join()
        elif attempt.answer is None:
            log.warning("warm job worker %s lost with job %d; replaced", worker.pid, attempt.job.id)
            self._replace(worker)
        elif worker.jobs_sent >= self._config.max_jobs_per_worker:
            log.info("warm job worker %s ran %d jobs; replaced", worker.pid, worker.jobs_sent)
            worker.retire()
            self._replace(worker)
        else:
            self._idle.append(worker)

    def _record_pending(self) -> None:
        """Record ended attempts; one the database refuses now is tried again next time."""
        while self._unrecorded:
            job, work_dir, outcome = self._unrecorded[0]
            try:
                self._complete(job, work_dir, outcome)
            except JobStateError:
                log.warning("job %d was moved by someone else; its outcome is dropped", job.id)
            self._unrecorded.pop(0)

    def _outcome(self, attempt: _Attempt) -> JobOutcome:
        outcome_file = attempt.work_dir / OUTCOME_FILE
        if attempt.killed_reason is None and (attempt.answer or outcome_file.exists()):
            try:
                text = attempt.answer or outcome_file.read_text(encoding="utf-8")
                return JobOutcome.from_json(text)
            except (ValueError, KeyError, TypeError) as exc:
                return JobOutcome(state="failed", reason=f"unreadable outcome: {exc}")
        reason = attempt.killed_reason or _exit_reason(attempt.process.exitcode)
        return JobOutcome(state="failed", reason=reason)

    def _complete(self, job: JobRow, work_dir: Path, outcome: JobOutcome) -> None:
        """Record the attempt's events and outputs, then end it in the audit database."""
        for stage, message, duration_s in stage_events(outcome.result):
            self._audit.add_job_event(job.id, stage=stage, message=message, duration_s=duration_s)
        if outcome.state in DELIVERED_OUTCOMES:
            try:
                for path in outcome.output_paths:
                    found = identify_output(path, work_dir)
                    self._audit.record_output(
                        job.id,
                        path=str(found.path),
                        sop_instance_uid=found.sop_instance_uid,
                        sop_class_uid=found.sop_class_uid,
                        kind=found.kind,
                    )
            except OutputError as exc:
                outcome = JobOutcome(state="failed", reason=str(exc), result=outcome.result)
        state = self._audit.finish_job(
            job.id, state=outcome.state, reason=outcome.reason, result=outcome.result
        )
        log.info("job %d attempt %d ended: %s", job.id, job.attempts, state.value)
        if self._on_finished is not None:
            self._on_finished(job.id, state)

    def _drain(self) -> None:
        """On stop: let running attempts finish for the grace period, then kill them."""
        deadline = time.monotonic() + self._config.stop_grace_s
        try:
            while self._active and time.monotonic() < deadline:
                self._reap()
                self._wait(max(0.0, min(0.5, deadline - time.monotonic())))
            self._reap()
        except SQLAlchemyError:
            log.exception("audit database unavailable while stopping; jobs recover on start")
        for attempt in self._active.values():
            attempt.process.kill()
            attempt.process.join()
            if attempt.worker is not None:
                attempt.worker.kill()
            log.warning("job %d interrupted by the service stop; it runs again", attempt.job.id)
        self._active.clear()
        for worker in self._idle:
            worker.kill()  # idle: no job to lose
        self._idle.clear()
        try:
            self._audit.requeue_stale_running_jobs(worker_prefix=self._worker)
        except SQLAlchemyError:
            log.exception("audit database unavailable while stopping; jobs recover on start")
