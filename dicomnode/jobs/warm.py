"""Warm handlers: prepared once per worker process, then run job after job.

A job handler named by ``jobs.handler`` (``"module:name"``) is either a plain function
``handler(spec) -> JobOutcome`` or a *warm handler*: an object with

- ``prepare(pipeline)``: the expensive start-up (imports done, models loaded), called once
  when a worker process starts, before any job is sent to it;
- ``run(spec) -> JobOutcome``: one job attempt, using what ``prepare`` built.

The local runner's warm workers (:mod:`dicomnode.jobs.pool`) call ``prepare`` at service
start and ``run`` for each attempt; a Celery worker process does the same on its
``worker_process_init`` signal and in its task. ``run`` must also work for a pipeline
configuration other than the prepared one (it prepares what that job needs), and a warm
handler may be called like a plain function (``handler(spec)``), so one import path serves
warm workers and per-attempt processes alike.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from dicomnode.jobs.handler import (
    JobHandler,
    JobOutcome,
    JobSpec,
    import_object,
    resolve_handler,
)
from pipeline.config import PipelineConfig


@runtime_checkable
class WarmHandler(Protocol):
    """A job handler that keeps what it loaded (models) between the jobs of one process."""

    def prepare(self, pipeline: PipelineConfig) -> None:
        """Load what jobs with ``pipeline`` need (once per worker process)."""
        ...

    def run(self, spec: JobSpec) -> JobOutcome:
        """Process one job attempt."""
        ...


class PlainHandler:
    """A plain handler function seen as a warm handler (nothing to prepare).

    Parameters
    ----------
    function : JobHandler
        ``function(spec) -> JobOutcome``.
    """

    def __init__(self, function: JobHandler) -> None:
        self._function = function

    def prepare(self, pipeline: PipelineConfig) -> None:
        """Nothing to load ahead of the jobs."""

    def run(self, spec: JobSpec) -> JobOutcome:
        """Call the function."""
        return self._function(spec)


def resolve_warm_handler(import_path: str) -> WarmHandler:
    """Import the handler named ``"package.module:name"`` as a warm handler.

    A warm handler object is returned as it is; a plain function is wrapped in
    :class:`PlainHandler`.

    Raises
    ------
    ValueError, ImportError, AttributeError, TypeError
        As :func:`~dicomnode.jobs.handler.resolve_handler`; TypeError also for a warm
        handler class (an instance is what runs).
    """
    handler = import_object(import_path)
    if isinstance(handler, WarmHandler):
        if isinstance(handler, type):
            raise TypeError(f"handler {import_path!r} is a class; name an instance of it")
        return handler
    return PlainHandler(resolve_handler(import_path))
