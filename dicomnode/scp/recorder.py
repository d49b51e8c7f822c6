"""Records what the receiving processes report in the audit database and the quiet timers.

The service process is the only writer of receive records: the SCP processes publish
:mod:`dicomnode.scp.events` records to a queue, and :class:`ReceiveRecorder` turns each
into :class:`~dicomnode.audit.log.AuditLog` calls and notes stored instances with the
series-completion tracker. The file on disk is the truth: if the database refuses a record
after the retries, the instance is still noted for completion and the next start-up's
spool reconciliation records it.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from dataclasses import dataclass
from typing import Protocol

from dicomnode.audit.log import AuditLog
from dicomnode.completion import CompletionTracker
from dicomnode.scp.events import (
    AssociationAccepted,
    AssociationEnded,
    AssociationRefused,
    InstanceRefused,
    InstanceStored,
    ReceiveEvent,
)

LOGGER = logging.getLogger(__name__)

RECORD_ATTEMPTS = 5
"""Attempts to record one event before giving up (the spool scan recovers instances)."""

RETRY_DELAY_S = 0.5
"""Pause between attempts, in seconds."""


@dataclass
class _OpenAssociation:
    association_id: int
    instances: int = 0
    bytes_received: int = 0


class ReceiveRecorder:
    """Turns receive events into audit records and quiet-timer notes.

    Parameters
    ----------
    audit : AuditLog
        The audit database.
    tracker : CompletionTracker
        Series quiet timers.
    """

    def __init__(self, audit: AuditLog, tracker: CompletionTracker) -> None:
        self._audit = audit
        self._tracker = tracker
        self._open: dict[str, _OpenAssociation] = {}

    def record(self, event: ReceiveEvent) -> None:
        """Record one event; database errors are retried, then logged (never raised)."""
        for attempt in range(1, RECORD_ATTEMPTS + 1):
            try:
                self._record(event)
                break
            except Exception:
                if attempt == RECORD_ATTEMPTS:
                    LOGGER.exception("could not record a %s event", type(event).__name__)
                else:
                    time.sleep(RETRY_DELAY_S)
        if isinstance(event, InstanceStored):
            self._tracker.note_instance(
                event.study_instance_uid,
                event.series_instance_uid,
                event.association.calling_aet,
                association=event.association.key,
            )
        elif isinstance(event, AssociationEnded):
            self._tracker.association_ended(event.association.key)

    def _association_id(self, key: str) -> int | None:
        open_association = self._open.get(key)
        return open_association.association_id if open_association else None

    def _record(self, event: ReceiveEvent) -> None:
        peer = event.association
        if isinstance(event, AssociationAccepted):
            association_id = self._audit.open_association(
                calling_ae=peer.calling_aet,
                called_ae=peer.called_aet,
                peer_address=peer.address,
                peer_port=peer.port,
            )
            self._open[peer.key] = _OpenAssociation(association_id)
        elif isinstance(event, AssociationRefused):
            self._audit.reject_association(
                calling_ae=peer.calling_aet,
                called_ae=peer.called_aet,
                peer_address=peer.address,
                peer_port=peer.port,
                reason=event.reason,
            )
        elif isinstance(event, AssociationEnded):
            ended = self._open.get(peer.key)
            if ended is not None:
                self._audit.close_association(
                    ended.association_id,
                    instances=ended.instances,
                    bytes_received=ended.bytes_received,
                    aborted=event.aborted,
                )
                del self._open[peer.key]
        elif isinstance(event, InstanceStored):
            self._audit.record_instance(
                association_id=self._association_id(peer.key),
                sop_instance_uid=event.sop_instance_uid,
                sop_class_uid=event.sop_class_uid,
                transfer_syntax_uid=event.transfer_syntax_uid,
                study_instance_uid=event.study_instance_uid,
                series_instance_uid=event.series_instance_uid,
                path=event.path,
                size_bytes=event.size_bytes,
                status="stored",
                reason="duplicate: file overwritten" if event.replaced else None,
                header=event.header,
            )
            counts = self._open.get(peer.key)
            if counts is not None:
                counts.instances += 1
                counts.bytes_received += event.size_bytes
        elif isinstance(event, InstanceRefused):
            self._audit.record_instance(
                association_id=self._association_id(peer.key),
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
        """Whether received instances wait to be recorded (their series are not quiet)."""
        return not self._source.empty()

    def _run(self) -> None:
        while True:
            try:
                event = self._source.get(timeout=0.2)
            except queue.Empty:
                if self._stop.is_set():
                    return
                continue
            self._recorder.record(event)
