"""The service's side of a warm worker process (see :func:`dicomnode.jobs.worker.serve_warm`).

A :class:`WarmWorker` starts its process at once (it imports and prepares the handler while
the service starts), is handed one job attempt at a time over a pipe and answers with the
outcome. Its runner replaces it when it dies (a crash mid-job is that job's failed attempt),
when a job times out (the process is killed) and after ``max_jobs_per_worker`` attempts.
"""

from __future__ import annotations

import contextlib
import logging
from multiprocessing.context import ForkServerContext, SpawnContext
from multiprocessing.process import BaseProcess
from pathlib import Path

from dicomnode.jobs.handler import JobSpec
from dicomnode.jobs.worker import serve_warm
from pipeline.config import PipelineConfig

log = logging.getLogger(__name__)

RETIRE_WAIT_S = 5.0
"""Seconds an idle worker told to stop gets to exit before it is killed."""


class WarmWorker:
    """One warm worker process, seen from the service.

    Parameters
    ----------
    context : SpawnContext or ForkServerContext
        How to start the process.
    handler_path : str
        The handler's import path (``jobs.handler``).
    pipeline : PipelineConfig
        The configuration the handler is prepared for.
    log_level : int
        The service's logging level (the worker logs alike).
    name : str
        Process name.
    """

    def __init__(
        self,
        context: SpawnContext | ForkServerContext,
        handler_path: str,
        pipeline: PipelineConfig,
        log_level: int,
        name: str,
    ) -> None:
        self._connection, child = context.Pipe(duplex=True)
        self.process: BaseProcess = context.Process(
            target=serve_warm,
            args=(handler_path, pipeline, child, log_level),
            name=name,
            daemon=True,  # never outlives the service, even one that exits without stop()
        )
        self.process.start()
        child.close()
        self.jobs_sent = 0
        """Job attempts sent to this process so far."""
        log.info("warm job worker started (pid %s)", self.process.pid)

    @property
    def pid(self) -> int | None:
        """The process id."""
        return self.process.pid

    def handles(self) -> list[object]:
        """What to wait on: the process ending and its answer arriving."""
        return [self.process.sentinel, self._connection]

    def send(self, spec: JobSpec, outcome_path: Path) -> None:
        """Hand one job attempt over (the worker runs it once it is prepared).

        Raises
        ------
        OSError
            The process is gone (the pipe is closed).
        """
        self._connection.send((spec, outcome_path))
        self.jobs_sent += 1

    def answer(self) -> str | None:
        """The outcome JSON of the attempt sent, if the worker has answered (does not block);
        None while it runs, or when it died without answering."""
        try:
            if self._connection.poll():
                text: str = self._connection.recv()
                return text
        except (EOFError, OSError):
            return None
        return None

    def kill(self) -> None:
        """End the process now (SIGKILL) and reap it."""
        self.process.kill()
        self.process.join()
        self._connection.close()

    def retire(self) -> None:
        """Ask an idle worker to exit; kill it if it has not within ``RETIRE_WAIT_S``."""
        with contextlib.suppress(OSError):  # already gone
            self._connection.send(None)
        self.process.join(RETIRE_WAIT_S)
        if self.process.is_alive():
            log.warning("warm job worker %s did not exit when asked; killed", self.pid)
        self.kill()
