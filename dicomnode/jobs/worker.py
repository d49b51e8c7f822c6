"""What runs inside a job's worker process.

Two entry points: :func:`run_attempt` (a process per job attempt) and :func:`serve_warm` (a
warm worker: prepares the handler once, then runs the attempts its runner sends over a pipe,
one at a time). Either resolves the handler from its import path, runs it on the spec and
writes the outcome as JSON (``*.part`` then rename, so a half-written outcome is never read);
the warm worker also sends it back over the pipe. A handler exception becomes a ``failed``
outcome with the exception's type and message. If the service process dies, the worker exits
at once: its attempt will be run again after the restart. The worker logs like the service
(same format and level, no patient values: highdicom and pydicom warn with element values
while the outputs are built).

The first attempt a process runs reports a ``worker start`` stage: the seconds the process
spent importing and preparing the handler (models loaded), and whether that was paid before
the job was sent (warm) or for this job. A warm process leaves what its start-up created out
of the cyclic garbage collector's walks (:func:`~dicomnode.jobs.collector.freeze_prepared`);
every attempt reports the collections that ran during it (``worker.gc`` in its result).
"""

from __future__ import annotations

import dataclasses
import logging
import multiprocessing
import multiprocessing.connection
import os
import queue
import threading
import time
import traceback
from pathlib import Path
from typing import cast

from dicomnode.jobs.collector import CollectorMeter, freeze_prepared
from dicomnode.jobs.handler import JobOutcome, JobSpec
from dicomnode.jobs.warm import WarmHandler, resolve_warm_handler
from dicomnode.logs import configure_logging
from pipeline.config import PipelineConfig
from pipeline.durable import atomic_write

log = logging.getLogger(__name__)

ORPHANED_EXIT_CODE = 70
"""Exit status of a worker whose service process went away."""
WORKER_START_STAGE = "worker start"
"""Stage event of the first attempt a worker process runs (its start-up, seconds)."""


def _exit_with_parent() -> None:
    parent = multiprocessing.parent_process()
    if parent is None or parent.sentinel is None:
        return
    sentinel = parent.sentinel

    def watch() -> None:
        multiprocessing.connection.wait([sentinel])
        os._exit(ORPHANED_EXIT_CODE)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def write_outcome(text: str, outcome_path: Path) -> None:
    """Write a serialised outcome durably and atomically to ``outcome_path``."""
    atomic_write(outcome_path, text.encode("utf-8"))


def _failure(exc: Exception) -> JobOutcome:
    last = traceback.extract_tb(exc.__traceback__)[-1:] if exc.__traceback__ else []
    where = f" at {last[0].filename}:{last[0].lineno}" if last else ""
    return JobOutcome(state="failed", reason=f"{type(exc).__name__}: {exc}{where}")


class _Prepared:
    """The handler of this process, prepared for one pipeline configuration (lazily again
    for a job when preparing failed before).

    Parameters
    ----------
    handler_path : str
        ``"package.module:name"`` of the handler.
    warm : bool
        The process runs job after job: once prepared, what exists is frozen out of the
        cyclic collector's walks (:func:`~dicomnode.jobs.collector.freeze_prepared`).
    """

    def __init__(self, handler_path: str, *, warm: bool) -> None:
        self._path = handler_path
        self._warm = warm
        self._handler: WarmHandler | None = None
        self.start_s = 0.0
        """Seconds spent resolving and preparing the handler (imports, models, freezing)."""
        self.frozen_objects = 0
        """Objects left out of the collector's walks after preparing (0: none frozen)."""

    @property
    def ready(self) -> bool:
        """Whether the handler is prepared."""
        return self._handler is not None

    def prepare(self, pipeline: PipelineConfig) -> WarmHandler:
        if self._handler is None:
            started = time.perf_counter()
            try:
                handler = resolve_warm_handler(self._path)
                handler.prepare(pipeline)
                if self._warm:
                    self.frozen_objects = freeze_prepared()
            finally:
                self.start_s += time.perf_counter() - started
            self._handler = handler
        return self._handler


def _run(prepared: _Prepared, spec: JobSpec) -> tuple[JobOutcome, CollectorMeter]:
    """One attempt; the handler's failure (preparing it included) is its outcome. Also the
    cyclic collections that ran during it."""
    with CollectorMeter() as meter:
        try:
            outcome = prepared.prepare(spec.pipeline).run(spec)
            if not isinstance(outcome, JobOutcome):
                raise TypeError(f"handler returned {type(outcome).__name__}, not JobOutcome")
        except Exception as exc:  # the handler's failure is this attempt's outcome
            outcome = _failure(exc)
    return outcome, meter


def _with_worker(
    outcome: JobOutcome,
    *,
    job_number: int,
    warm: bool,
    ahead: bool,
    prepared: _Prepared,
    collector: CollectorMeter,
) -> str:
    """The outcome as JSON, with ``result["worker"]`` (the collections of the attempt and the
    objects frozen out of them in ``gc``) and, for the process's first attempt, its
    ``worker start`` stage (``ahead``: paid before the job was sent)."""
    result = dict(outcome.result)
    result["worker"] = {
        "pid": os.getpid(),
        "job_number": job_number,
        "warm": warm,
        "gc": {**collector.to_dict(), "frozen_objects": prepared.frozen_objects},
    }
    if job_number == 1:
        when = "before this job was sent" if ahead else "for this job"
        start = {
            "stage": WORKER_START_STAGE,
            "message": f"pid {os.getpid()}: handler imported and prepared {when}",
            "duration_s": round(prepared.start_s, 3),
        }
        result["stages"] = [start, *(result.get("stages") or [])]
    return dataclasses.replace(outcome, result=result).to_json()


def run_attempt(handler_path: str, spec: JobSpec, outcome_path: Path, log_level: int) -> None:
    """Entry point of a per-attempt worker process (the target of ``multiprocessing.Process``);
    logs at ``log_level`` (the service's)."""
    configure_logging(log_level)
    _exit_with_parent()
    prepared = _Prepared(handler_path, warm=False)
    outcome, collector = _run(prepared, spec)
    text = _with_worker(
        outcome, job_number=1, warm=False, ahead=False, prepared=prepared, collector=collector
    )
    write_outcome(text, outcome_path)


def _receive(
    connection: multiprocessing.connection.Connection, inbox: queue.SimpleQueue[object]
) -> None:
    """Take messages off the pipe as they come (so the runner never blocks on a full pipe
    while this process prepares); a closed pipe reads as ``None`` (stop)."""
    while True:
        try:
            message = connection.recv()
        except (EOFError, OSError):
            message = None
        inbox.put(message)
        if message is None:
            return


def serve_warm(
    handler_path: str,
    pipeline: PipelineConfig,
    connection: multiprocessing.connection.Connection,
    log_level: int,
) -> None:
    """Entry point of a warm worker process: prepare the handler for ``pipeline`` now, then
    run each ``(spec, outcome path)`` received on ``connection`` and answer with the outcome's
    JSON (also written to the outcome path); ``None`` or a closed pipe ends the process."""
    configure_logging(log_level)
    _exit_with_parent()
    inbox: queue.SimpleQueue[object] = queue.SimpleQueue()
    threading.Thread(
        target=_receive, args=(connection, inbox), name="job-inbox", daemon=True
    ).start()
    prepared = _Prepared(handler_path, warm=True)
    try:
        prepared.prepare(pipeline)
    except Exception:  # each job tries again and reports the failure as its outcome
        log.exception("the job handler could not be prepared")
    job_number = 0
    while (message := inbox.get()) is not None:
        spec, outcome_path = cast(tuple[JobSpec, Path], message)
        job_number += 1
        ahead = prepared.ready
        outcome, collector = _run(prepared, spec)
        text = _with_worker(
            outcome,
            job_number=job_number,
            warm=True,
            ahead=ahead,
            prepared=prepared,
            collector=collector,
        )
        write_outcome(text, outcome_path)
        connection.send(text)
