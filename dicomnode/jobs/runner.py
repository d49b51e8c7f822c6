"""The port every job runner implements, and the factory that picks one by configuration."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from dicomnode.audit.ports import ClaimQueue, JobQueue
from dicomnode.audit.rows import JobState
from dicomnode.jobs.config import JobsConfig
from pipeline.config import PipelineConfig

JobFinished = Callable[[int, JobState], None]
"""Called with (job id, state stored) after each attempt ends (e.g. to wake the outbox)."""


class JobRunner(Protocol):
    """Runs queued jobs from the audit database until stopped.

    The job table in the audit database is the queue: a runner claims jobs with
    :meth:`~dicomnode.audit.ports.JobQueue.claim_next_job`, so several runners (machines)
    can share one PostgreSQL database.
    """

    def start(self) -> None:
        """Recover this node's interrupted jobs and start running queued ones."""
        ...

    def stop(self) -> None:
        """Stop claiming jobs, let running ones finish for a grace period, then stop."""
        ...

    def notify(self) -> None:
        """A job was queued: look for work now instead of at the next poll."""
        ...


def create_runner(
    config: JobsConfig,
    audit: JobQueue,
    *,
    pipeline: PipelineConfig,
    node_name: str | None = None,
    on_finished: JobFinished | None = None,
) -> JobRunner:
    """Build the runner that ``config.backend`` names; its jobs run with ``pipeline``.

    ``celery``: the node only publishes jobs (``audit`` must then also be a
    :class:`~dicomnode.audit.ports.ClaimQueue`); ``dicomnode worker`` processes run them.

    Raises
    ------
    ValueError
        ``celery`` with an audit database that cannot serve as its queue.
    ImportError
        ``celery`` without the ``celery`` extra installed.
    """
    if config.backend == "local":
        from dicomnode.jobs.local import LocalJobRunner

        return LocalJobRunner(
            config, audit, pipeline=pipeline, node_name=node_name, on_finished=on_finished
        )
    from dicomnode.jobs.celery_runner import CeleryJobRunner  # needs the celery extra

    if not isinstance(audit, ClaimQueue):
        raise ValueError("jobs.backend 'celery' needs the audit database as its claim queue")
    return CeleryJobRunner(config, audit)
