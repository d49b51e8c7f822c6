"""The outbox: sends each succeeded job's outputs to every configured destination.

Its state is in the audit database (one entry per output and destination, with the time of
the next attempt), so retries survive restarts. Each destination gets one batch per round
(one association for DICOM peers) of at most ``batch_size`` outputs. Every outcome is
recorded; delivered entries are done, so a partly failed batch resends only what did not
arrive. Transient failures retry with exponential back-off up to ``max_attempts``; permanent
ones are dead-lettered at once (``dicomnode retry JOB`` re-arms them).

"Return to sender" adds, per job, a destination named
``return-to-sender:{calling AE}@{address}`` (the association that brought the job's
latest instance); its sender is built on demand by the ``return_sender`` factory.

Delivery is at least once on the wire: a crash between a peer's answer and its recording
resends the same objects (same SOP Instance UIDs), which a PACS stores as a duplicate.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from pathlib import Path

from dicomnode.audit.ports import DeliveryLog
from dicomnode.audit.rows import DeliveryRow
from dicomnode.audit.store import utc_now
from dicomnode.delivery.base import DeliveryStatus, InstanceOutcome, Sender
from dicomnode.outbox.backoff import next_attempt_at
from dicomnode.outbox.config import OutboxConfig
from dicomnode.polling import PollingThread

log = logging.getLogger(__name__)

RETURN_TO_SENDER_PREFIX = "return-to-sender:"
"""Destination names of per-job "back to the calling AE" deliveries start with this."""

ReturnSenderFactory = Callable[[str, str], Sender]
"""Builds the sender that returns results to ``(calling_ae, peer_address)``."""


def return_destination(calling_ae: str, peer_address: str) -> str:
    """The destination name of a return-to-sender delivery."""
    return f"{RETURN_TO_SENDER_PREFIX}{calling_ae}@{peer_address}"


def parse_return_destination(name: str) -> tuple[str, str] | None:
    """``(calling_ae, peer_address)`` of a return-to-sender destination name, else None."""
    if not name.startswith(RETURN_TO_SENDER_PREFIX):
        return None
    calling_ae, _, peer_address = name[len(RETURN_TO_SENDER_PREFIX) :].rpartition("@")
    return (calling_ae, peer_address) if calling_ae and peer_address else None


class Outbox:
    """Delivers job outputs through one :class:`Sender` per destination.

    Parameters
    ----------
    audit : DeliveryLog
        The audit database (outbox state).
    senders : mapping of str to Sender
        Configured destinations by name.
    config : OutboxConfig
        Retry and batching policy.
    clock : callable, optional
        Returns the current time (timezone-aware UTC); injectable for tests.
    return_sender : callable, optional
        When given, every job's outputs also go back to the AE that sent the study, through
        the sender this factory builds from ``(calling_ae, peer_address)``.
    """

    def __init__(
        self,
        audit: DeliveryLog,
        senders: Mapping[str, Sender],
        config: OutboxConfig,
        *,
        clock: Callable[[], datetime] | None = None,
        return_sender: ReturnSenderFactory | None = None,
    ) -> None:
        self._audit = audit
        self._senders = dict(senders)
        self._return_sender = return_sender
        self._config = config
        self._clock = clock or utc_now
        self._loop = PollingThread("outbox", lambda: self.run_once() > 0, config.poll_interval_s)

    def plan(self) -> int:
        """Enter the outputs of every newly succeeded job for each destination.

        Returns the number of new outbox entries.
        """
        planned = 0
        for job_id in self._audit.jobs_awaiting_delivery_plan():
            destinations = list(self._senders)
            if self._return_sender is not None:
                sender = self._audit.job_sender(job_id)
                if sender is None:
                    log.warning("job %d: no sending association; not returned to sender", job_id)
                else:
                    destinations.append(return_destination(*sender))
            planned += self._audit.plan_deliveries(job_id, destinations=destinations)
        return planned

    def _sender_for(self, destination: str) -> Sender | None:
        """The sender of a destination; None if it is no longer configured (it waits)."""
        sender = self._senders.get(destination)
        if sender is None and self._return_sender is not None:
            peer = parse_return_destination(destination)
            if peer is not None:
                sender = self._return_sender(*peer)
        return sender

    def run_once(self) -> int:
        """Plan new jobs, then send one batch per destination of what is due.

        Returns the number of sends recorded.
        """
        self.plan()
        if not self._senders and self._return_sender is None:
            return 0
        returning = self._return_sender is not None
        due = self._audit.pending_deliveries(
            destinations=list(self._senders),
            destination_prefix=RETURN_TO_SENDER_PREFIX if returning else None,
            limit=self._config.batch_size * (len(self._senders) + (4 if returning else 0)),
        )
        by_destination: dict[str, list[DeliveryRow]] = defaultdict(list)
        for row in due:
            if len(by_destination[row.destination]) < self._config.batch_size:
                by_destination[row.destination].append(row)
        sent = 0
        for destination, rows in by_destination.items():
            sender = self._sender_for(destination)
            if sender is not None:
                sent += self._send_batch(sender, rows)
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
        self._loop.start()

    def stop(self) -> None:
        """Stop after the batch in progress."""
        self._loop.stop()

    def notify(self) -> None:
        """A job finished or a delivery was re-armed: look now."""
        self._loop.notify()
