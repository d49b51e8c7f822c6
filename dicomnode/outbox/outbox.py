"""The outbox: sends each succeeded job's outputs to every configured destination.

Its state is in the audit database (one entry per output and destination, with the time of
the next attempt), so retries survive restarts. Each destination gets one batch per round
(one association for DICOM peers) of at most ``batch_size`` outputs. Every outcome is
recorded; delivered entries are done, so a partly failed batch resends only what did not
arrive. Transient failures retry with exponential back-off up to ``max_attempts``; permanent
ones are dead-lettered at once (``dicomnode retry JOB`` re-arms them).

Delivery is at least once on the wire: a crash between a peer's answer and its recording
resends the same objects (same SOP Instance UIDs), which a PACS stores as a duplicate.
"""

from __future__ import annotations

import logging
import threading
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from pathlib import Path

from sqlalchemy.exc import SQLAlchemyError

from dicomnode.audit.log import AuditLog
from dicomnode.audit.rows import DeliveryRow
from dicomnode.audit.store import utc_now
from dicomnode.delivery.base import DeliveryStatus, InstanceOutcome, Sender
from dicomnode.outbox.backoff import next_attempt_at
from dicomnode.outbox.config import OutboxConfig

log = logging.getLogger(__name__)


class Outbox:
    """Delivers job outputs through one :class:`Sender` per destination.

    Parameters
    ----------
    audit : AuditLog
        The audit database (outbox state).
    senders : mapping of str to Sender
        Configured destinations by name.
    config : OutboxConfig
        Retry and batching policy.
    clock : callable, optional
        Returns the current time (timezone-aware UTC); injectable for tests.
    """

    def __init__(
        self,
        audit: AuditLog,
        senders: Mapping[str, Sender],
        config: OutboxConfig,
        *,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self._audit = audit
        self._senders = dict(senders)
        self._config = config
        self._clock = clock or utc_now
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def plan(self) -> int:
        """Enter the outputs of every newly succeeded job for each destination.

        Returns the number of new outbox entries.
        """
        planned = 0
        for job_id in self._audit.jobs_awaiting_delivery_plan():
            planned += self._audit.plan_deliveries(job_id, destinations=list(self._senders))
        return planned

    def run_once(self) -> int:
        """Plan new jobs, then send one batch per destination of what is due.

        Returns the number of sends recorded.
        """
        self.plan()
        if not self._senders:
            return 0
        due = self._audit.pending_deliveries(
            destinations=list(self._senders),
            limit=self._config.batch_size * len(self._senders),
        )
        by_destination: dict[str, list[DeliveryRow]] = defaultdict(list)
        for row in due:
            if len(by_destination[row.destination]) < self._config.batch_size:
                by_destination[row.destination].append(row)
        sent = 0
        for destination, rows in by_destination.items():
            sent += self._send_batch(self._senders[destination], rows)
        return sent

    def _send_batch(self, sender: Sender, rows: Sequence[DeliveryRow]) -> int:
        paths = [Path(row.path) for row in rows]
        try:
            outcomes = list(sender.send(paths))
        except Exception as exc:  # a Sender must not raise; if it does, nothing was confirmed
            log.exception("destination %s raised instead of reporting outcomes", sender.name)
            outcomes = []
            detail = f"sender raised {type(exc).__name__}: {exc}"
        else:
            detail = "no outcome reported for this instance"
        for index, row in enumerate(rows):
            outcome = outcomes[index] if index < len(outcomes) else None
            if outcome is None:
                outcome = InstanceOutcome(
                    paths[index], row.sop_instance_uid, DeliveryStatus.TRANSIENT, None, detail
                )
            now = self._clock()
            self._audit.record_delivery(
                row.id,
                status=outcome.status.value,
                dimse_status=outcome.dimse_status,
                detail=outcome.detail,
                next_attempt_at=next_attempt_at(
                    self._config, outcome.status, row.attempts_since_armed + 1, now
                ),
            )
        delivered = sum(1 for o in outcomes if o.status.delivered)
        log.info("destination %s: %d of %d delivered", sender.name, delivered, len(rows))
        return len(rows)

    # --- background loop -----------------------------------------------------------------

    def start(self) -> None:
        """Start the delivery thread."""
        if self._thread is not None:
            raise RuntimeError("outbox already started")
        self._stopping.clear()
        self._thread = threading.Thread(target=self._loop, name="outbox", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop after the batch in progress."""
        if self._thread is None:
            return
        self._stopping.set()
        self._wake.set()
        self._thread.join()
        self._thread = None

    def notify(self) -> None:
        """A job finished or a delivery was re-armed: look now."""
        self._wake.set()

    def _loop(self) -> None:
        while not self._stopping.is_set():
            self._wake.clear()
            busy = False
            try:
                busy = self.run_once() > 0
            except SQLAlchemyError:
                log.exception("audit database unavailable; the outbox retries")
            except Exception:  # the delivery thread must survive anything
                log.exception("outbox error; it carries on")
            if not busy:
                self._wake.wait(self._config.poll_interval_s)
