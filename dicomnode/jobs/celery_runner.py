"""The node's side of the ``celery`` backend: publish queued jobs to the broker.

The job table is the outbox of the broker: a job is created ``queued`` with no publication
recorded; this runner's thread publishes every such job (its id only) to its queue (small
studies to ``<queue>.small``) with publisher confirmation, then records the publication. A
node that dies between the two publishes the job again after its restart (a duplicate
message is harmless: the worker's claim in the audit database decides). Failed attempts with
attempts left and rushed jobs come back unpublished and are published again. The thread also
ends the attempts of workers lost without a redelivery taking their job over (claim lapsed
for more than ``lease_s``), so that their jobs are published again. While the broker is
down nothing is recorded as published, and the next pass tries again.
"""

from __future__ import annotations

import logging

from celery import Celery

from dicomnode.audit.ports import ClaimQueue
from dicomnode.jobs.celery_app import (
    TASK_NAME,
    broker_priority,
    create_celery_app,
    declare_queues,
    route,
)
from dicomnode.jobs.config import JobsConfig
from dicomnode.polling import PollingThread

log = logging.getLogger(__name__)

PUBLISH_RETRIES = 2
"""Retries of one publication (then the next pass tries again)."""


class CeleryJobRunner:
    """Publishes the audit database's queued jobs to the Celery broker (node side).

    Parameters
    ----------
    config : JobsConfig
        Broker, queue, lease, small-study threshold, poll interval.
    audit : ClaimQueue
        The audit database (PostgreSQL).
    app : Celery, optional
        The Celery application (default: built from ``config``).
    """

    def __init__(self, config: JobsConfig, audit: ClaimQueue, *, app: Celery | None = None):
        self._config = config
        self._audit = audit
        self._app = app or create_celery_app(config)
        self._loop = PollingThread("job-dispatch", self._publish, config.poll_interval_s)
        self._declared = False

    def start(self) -> None:
        """Start the publishing thread."""
        self._loop.start()

    def stop(self) -> None:
        """Stop publishing (jobs already published stay in the broker)."""
        self._loop.stop()

    def notify(self) -> None:
        """A job was queued: publish it now instead of at the next poll."""
        self._loop.notify()

    def _publish(self) -> bool:
        self.dispatch_once()
        return False  # a pass publishes every waiting job: the next one waits for news

    def dispatch_once(self) -> int:
        """End lost attempts, then publish every waiting job; returns how many were published.

        Raises
        ------
        Exception
            The broker refused or could not be reached (kombu's errors); the job stays
            unpublished.
        """
        lost = self._audit.expire_lost_claims(grace_s=self._config.lease_s)
        if lost:
            log.warning("job(s) %s lost their worker; published again", lost)
        if not self._declared:
            declare_queues(self._app, self._config)
            self._declared = True
        published = 0
        while not self._loop.stopping:
            rows = self._audit.jobs_to_dispatch(limit=100)
            if not rows:
                break
            for row in rows:
                queue, priority = route(self._config, row.instances, row.priority)
                self._app.send_task(
                    TASK_NAME,
                    args=[row.job_id],
                    queue=queue,
                    priority=broker_priority(self._config.broker_url, priority),
                    retry=True,
                    retry_policy={"max_retries": PUBLISH_RETRIES},
                )
                self._audit.mark_dispatched(row.job_id, queue=queue.name, priority=priority)
                published += 1
        if published:
            log.info("%d job(s) published to the broker", published)
        return published
