"""The one long-running service: SCP processes, recorder, completion scheduler, job runner
and outbox loop, started in order and stopped in reverse order.

Start-up: record the start, reconcile the spool with the database, start the recorder and
the SCP processes, restart the quiet timers of the spooled series (from now: time spent
down is not quiet), then start the completion scheduler and the background loops (job
runner, outbox). Stop (SIGTERM or SIGINT): stop receiving
first, record what the SCP processes still reported, stop the scheduler, then the loops.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import FrameType
from typing import Protocol

from dicomnode.audit.ports import JobSubmission, ReconcileLog
from dicomnode.completion import CompletedGroup, CompletionScheduler, CompletionTracker
from dicomnode.intake.reconcile import reconcile_spool
from dicomnode.intake.recorder import QueueDrain
from dicomnode.jobs.study_link import PlanningCTLinker
from dicomnode.jobs.study_relink import LatePlanningCTLinker
from dicomnode.scp.server import ScpProcessPool
from dicomnode.scp.spool import SpoolWriter

LOGGER = logging.getLogger(__name__)

HEALTH_CHECK_INTERVAL_S = 1.0
"""How often the service checks that its SCP processes are alive, in seconds."""


class BackgroundLoop(Protocol):
    """A part of the service that runs in its own thread(s) (job runner, outbox)."""

    def start(self) -> None:
        """Start working in the background."""
        ...

    def stop(self) -> None:
        """Finish the current unit of work and stop."""
        ...


class SeriesJobCreator:
    """Turns a completed group of series into a queued job and wakes the job runner.

    Parameters
    ----------
    audit : JobSubmission
        Where series are marked complete and the job is created (idempotently).
    notify : callable
        Called after the group's jobs are created (the runner's ``notify``).
    linker : PlanningCTLinker, optional
        Adds the planning CT series of the same patient to the job of an NM/PET study
        (:mod:`dicomnode.jobs.study_link`); None: no linking.
    late_linker : LatePlanningCTLinker, optional
        When the group's study is a planning CT that arrived after an NM/PET study of the
        same patient, queues that study's job again with the CT linked
        (:mod:`dicomnode.jobs.study_relink`); None: no re-linking.
    """

    def __init__(
        self,
        audit: JobSubmission,
        notify: Callable[[], None],
        linker: PlanningCTLinker | None = None,
        late_linker: LatePlanningCTLinker | None = None,
    ) -> None:
        self._audit = audit
        self._notify = notify
        self._linker = linker
        self._late_linker = late_linker

    def __call__(self, group: CompletedGroup) -> None:
        """Mark the group's series complete and create its job (with any linked planning CT
        series), then the jobs of NM/PET studies that were waiting for this planning CT."""
        for series_uid in group.series_instance_uids:
            self._audit.mark_series_complete(series_uid)
        link = None if self._linker is None else self._linker.link(group.study_instance_uid)
        linked = [] if link is None else list(link.series_instance_uids)
        job_id = self._audit.create_job(
            study_instance_uid=group.study_instance_uid,
            series_instance_uids=list(group.series_instance_uids) + linked,
            calling_ae=group.calling_aet,
        )
        if link is not None and self._linker is not None:
            self._linker.record(job_id, link)
        LOGGER.info("job %d queued for %d series", job_id, len(group.series_instance_uids))
        if self._late_linker is not None:
            for late in self._late_linker.late_links(group.study_instance_uid):
                relinked = self._audit.create_job(
                    study_instance_uid=late.study_instance_uid,
                    series_instance_uids=list(late.series_instance_uids),
                    calling_ae=late.calling_ae,
                )
                self._late_linker.record(relinked, late)
                LOGGER.info("job %d queued: job %d's NM/PET study with its late planning CT",
                            relinked, late.earlier_job_id)
        self._notify()


class ServiceError(RuntimeError):
    """The service cannot go on (an SCP process died)."""


@dataclass
class NodeService:
    """Every running part of the node, built by :mod:`dicomnode.composition`.

    Parameters
    ----------
    audit : ReconcileLog
        The audit database (service events, spool reconciliation).
    spool : SpoolWriter
        The spool the SCP processes write to.
    tracker : CompletionTracker
        Series quiet timers.
    scp : ScpProcessPool
        The receiving processes.
    drain : QueueDrain
        Records what the receiving processes report.
    scheduler : CompletionScheduler
        Turns quiet series into jobs.
    loops : sequence of BackgroundLoop
        Job runner, outbox loop and any other background parts, started in this order.
    description : str
        Recorded with the start event (e.g. the configuration hash).
    """

    audit: ReconcileLog
    spool: SpoolWriter
    tracker: CompletionTracker
    scp: ScpProcessPool
    drain: QueueDrain
    scheduler: CompletionScheduler
    loops: Sequence[BackgroundLoop]
    description: str = ""

    def run(self, stop: threading.Event) -> None:
        """Run until ``stop`` is set; stops every part cleanly before returning.

        Raises
        ------
        ServiceError
            If an SCP process died (after stopping the rest cleanly).
        """
        self.audit.record_service_event("start", self.description)
        reconciled = reconcile_spool(self.spool, self.audit)
        started: list[BackgroundLoop] = []
        failure: str | None = None
        try:
            self.drain.start()
            self.scp.start()
            self.tracker.restore(reconciled.series)
            self.scheduler.start()
            for loop in self.loops:
                loop.start()
                started.append(loop)
            while not stop.wait(HEALTH_CHECK_INTERVAL_S):
                if not self.scp.alive():
                    failure = "an SCP process died"
                    LOGGER.error("%s; stopping the service", failure)
                    break
        finally:
            self.scp.stop()
            self.drain.stop()
            self.scheduler.stop()
            for loop in reversed(started):
                loop.stop()
            self.audit.record_service_event("stop", failure or "")
            LOGGER.info("service stopped")
        if failure is not None:
            raise ServiceError(failure)


def stop_on_signals() -> threading.Event:
    """An event set by SIGTERM or SIGINT (install from the main thread)."""
    stop = threading.Event()

    def _handler(signum: int, frame: FrameType | None) -> None:
        LOGGER.info("received signal %d; stopping", signum)
        stop.set()

    signal.signal(signal.SIGTERM, _handler)
    signal.signal(signal.SIGINT, _handler)
    return stop
