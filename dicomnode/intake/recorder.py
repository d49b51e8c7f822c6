"""Records what the receiving processes report in the audit database and the quiet timers.

The service process is the only writer of receive records: the SCP processes publish
:mod:`dicomnode.scp.events` records to a queue; :class:`QueueDrain` takes what is queued
or arrives within :data:`BATCH_WINDOW_S` (at most :data:`MAX_BATCH` events) and
:class:`ReceiveRecorder` writes it in one audit transaction (one commit per burst, not per
instance), then notes stored instances with the series-completion tracker. The file on
disk is the truth: if the database refuses a record after the retries, the instance is
still noted for completion and the next start-up's spool reconciliation records it.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Protocol

from dicomnode.audit.ports import ReceiptLog, Receipts
from dicomnode.completion import CompletionTracker
from dicomnode.scp.events import (
    AssociationAccepted,
    AssociationEnded,
    AssociationRefused,
    ConnectionRefused,
    InstanceRefused,
    InstanceStored,
    ReceiveEvent,
)

LOGGER = logging.getLogger(__name__)

RECORD_ATTEMPTS = 5
"""Attempts to record one batch before giving up (the spool scan recovers instances)."""

RETRY_DELAY_S = 0.5
"""Pause between attempts, in seconds."""

MAX_BATCH = 500
"""Most events recorded in one transaction."""

REFUSAL_WINDOW_S = 60.0
"""Recording window of refused connections, in seconds: one audit row (with a count) and
one log line per peer address and reason per window, however many connections it tried."""

BATCH_WINDOW_S = 0.1
"""How long the recorder gathers events after the first of a batch, in seconds: at one
sender's pace (~200 instances/s) one commit (one ``fsync`` on SQLite) then serves ~20
instances instead of each, and competes less with the spool's own ``fsync`` calls."""


@dataclass
class _OpenAssociation:
    association_id: int
    instances: int = 0
    bytes_received: int = 0


class ReceiveRecorder:
    """Turns receive events into audit records and quiet-timer notes.

    Parameters
    ----------
    audit : ReceiptLog
        The audit database.
    tracker : CompletionTracker
        Series quiet timers.
    """

    def __init__(self, audit: ReceiptLog, tracker: CompletionTracker) -> None:
        self._audit = audit
        self._tracker = tracker
        self._open: dict[str, _OpenAssociation] = {}

    def record(self, event: ReceiveEvent) -> None:
        """Record one event (see :meth:`record_batch`)."""
        self.record_batch([event])

    def record_batch(self, events: Sequence[ReceiveEvent]) -> None:
        """Record events in their order in one transaction, then note them with the tracker.

        Database errors are retried; if the batch still fails, each event is tried once on
        its own so that one bad record cannot keep the others out, and what still fails is
        logged (never raised: the spool scan at the next start records the instances).
        """
        if not self._write_with_retries(events) and len(events) > 1:
            for event in events:
                self._write_with_retries([event], attempts=1)
        for event in events:
            if isinstance(event, InstanceStored):
                self._tracker.note_instance(
                    event.study_instance_uid,
                    event.series_instance_uid,
                    event.association.calling_aet,
                    association=event.association.key,
                )
            elif isinstance(event, AssociationEnded):
                self._tracker.association_ended(event.association.key)

    def _write_with_retries(
        self, events: Sequence[ReceiveEvent], attempts: int = RECORD_ATTEMPTS
    ) -> bool:
        """Write the events in one transaction; whether it committed."""
        for attempt in range(1, attempts + 1):
            # The open associations are updated on a copy, kept only once committed.
            opened = {key: replace(value) for key, value in self._open.items()}
            try:
                with self._audit.receipts() as batch:
                    for event in events:
                        _write(batch, opened, event)
            except Exception:
                if attempt == attempts:
                    LOGGER.exception(
                        "could not record %s", ", ".join(type(e).__name__ for e in events[:3])
                    )
                    return False
                time.sleep(RETRY_DELAY_S)
            else:
                self._open = opened
                return True
        return False


def _write(batch: Receipts, opened: dict[str, _OpenAssociation], event: ReceiveEvent) -> None:
    """Add one event's records to ``batch``; ``opened`` tracks the open associations."""
    if isinstance(event, ConnectionRefused):
        _count_refusal(batch, event)
        return
    peer = event.association
    current = opened.get(peer.key)
    association_id = current.association_id if current else None
    if isinstance(event, AssociationAccepted | AssociationRefused):
        new_id = batch.add_association(
            calling_ae=peer.calling_aet,
            called_ae=peer.called_aet,
            peer_address=peer.address,
            peer_port=peer.port,
            reject_reason=event.reason if isinstance(event, AssociationRefused) else None,
        )
        if isinstance(event, AssociationAccepted):
            opened[peer.key] = _OpenAssociation(new_id)
    elif isinstance(event, AssociationEnded):
        if current is not None:
            batch.close_association(
                current.association_id,
                instances=current.instances,
                bytes_received=current.bytes_received,
                aborted=event.aborted,
            )
            del opened[peer.key]
    elif isinstance(event, InstanceStored):
        batch.record_instance(
            association_id=association_id,
            sop_instance_uid=event.sop_instance_uid,
            sop_class_uid=event.sop_class_uid,
            transfer_syntax_uid=event.transfer_syntax_uid,
            study_instance_uid=event.study_instance_uid,
            series_instance_uid=event.series_instance_uid,
            path=event.path,
            size_bytes=event.size_bytes,
            status="stored",
            reason="; ".join(
                (["duplicate: file overwritten"] if event.replaced else []) + list(event.assumed)
            )
            or None,
            header=event.header,
        )
        if current is not None:
            current.instances += 1
            current.bytes_received += event.size_bytes
    elif isinstance(event, InstanceRefused):
        batch.record_instance(
            association_id=association_id,
            sop_instance_uid=event.sop_instance_uid,
            sop_class_uid=event.sop_class_uid,
            transfer_syntax_uid="",
            study_instance_uid="",
            series_instance_uid="",
            path=None,
            size_bytes=0,
            status="rejected",
            reason=f"0x{event.status:04X}: {event.reason}",
            header={},
        )


def _count_refusal(batch: Receipts, event: ConnectionRefused) -> None:
    """Count a refused connection; one log line per address, reason and recording window."""
    started = batch.count_refusal(
        peer_address=event.address,
        reason=event.reason,
        detail=event.detail,
        at=datetime.fromtimestamp(event.at, UTC),
        window_s=REFUSAL_WINDOW_S,
    )
    if started:
        LOGGER.warning(
            "connection from %s refused (%s): %s; further refusals of it in the next %g s "
            "are counted, not logged",
            event.address,
            event.reason,
            event.detail,
            REFUSAL_WINDOW_S,
        )


class EventSource(Protocol):
    """The part of a queue that :class:`QueueDrain` uses."""

    def get(self, block: bool = True, timeout: float | None = None) -> ReceiveEvent:
        """Next event; raises :class:`queue.Empty` after ``timeout`` seconds."""
        ...

    def empty(self) -> bool:
        """Whether no event is waiting (approximate for a multiprocessing queue)."""
        ...


class QueueDrain:
    """Thread that feeds events from the SCP processes' queue to a recorder.

    Parameters
    ----------
    source : EventSource
        The ``multiprocessing`` queue the SCP processes publish to.
    recorder : ReceiveRecorder
        Where events go.
    """

    def __init__(self, source: EventSource, recorder: ReceiveRecorder) -> None:
        self._source = source
        self._recorder = recorder
        self._stop = threading.Event()
        # Set right after an event is taken off the queue, cleared once its batch is
        # recorded and noted (a plain flag: one writer, read by the completion thread).
        self._in_flight = False
        self._thread = threading.Thread(target=self._run, name="receive-recorder", daemon=True)

    def start(self) -> None:
        """Start draining in the background."""
        self._thread.start()

    def stop(self) -> None:
        """Record what is still queued, then stop."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    def backlog(self) -> bool:
        """Whether received instances wait to be recorded (their series are not quiet):
        queued, or taken off the queue and not yet recorded."""
        return self._in_flight or not self._source.empty()

    def _run(self) -> None:
        while True:
            try:
                first = self._source.get(timeout=0.2)
            except queue.Empty:
                if self._stop.is_set():
                    return
                continue
            self._in_flight = True
            try:
                self._recorder.record_batch(self._take_more([first]))
            finally:
                self._in_flight = False

    def _take_more(self, batch: list[ReceiveEvent]) -> list[ReceiveEvent]:
        """Add to ``batch`` what arrives within :data:`BATCH_WINDOW_S` of its first event,
        up to :data:`MAX_BATCH` events."""
        deadline = time.monotonic() + BATCH_WINDOW_S
        while len(batch) < MAX_BATCH:
            try:
                batch.append(self._source.get(timeout=max(0.0, deadline - time.monotonic())))
            except queue.Empty:
                break
        return batch
