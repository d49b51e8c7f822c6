"""What runs inside a job's worker process.

The worker resolves the handler from its import path, runs it on the spec and writes the
outcome as JSON (``*.part`` then rename, so a half-written outcome is never read). A handler
exception becomes a ``failed`` outcome with the exception's type and message. If the service
process dies, the worker exits at once: its attempt will be run again after the restart. The
worker logs like the service (same format and level, no patient values: highdicom and pydicom
warn with element values while the outputs are built).
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.connection
import os
import threading
import traceback
from pathlib import Path

from dicomnode.jobs.handler import JobOutcome, JobSpec, resolve_handler
from dicomnode.logs import configure_logging
from pipeline.durable import atomic_write

ORPHANED_EXIT_CODE = 70
"""Exit status of a worker whose service process went away."""


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


def run_attempt(handler_path: str, spec: JobSpec, outcome_path: Path, log_level: int) -> None:
    """Entry point of a worker process (the target of ``multiprocessing.Process``); logs at
    ``log_level`` (the service's)."""
    configure_logging(log_level)
    _exit_with_parent()
    try:
        outcome = resolve_handler(handler_path)(spec)
        if not isinstance(outcome, JobOutcome):
            raise TypeError(f"handler returned {type(outcome).__name__}, not JobOutcome")
        text = outcome.to_json()
    except Exception as exc:  # the handler's failure is this attempt's outcome
        last = traceback.extract_tb(exc.__traceback__)[-1:] if exc.__traceback__ else []
        where = f" at {last[0].filename}:{last[0].lineno}" if last else ""
        reason = f"{type(exc).__name__}: {exc}{where}"
        text = JobOutcome(state="failed", reason=reason).to_json()
    write_outcome(text, outcome_path)
