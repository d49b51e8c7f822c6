"""pynetdicom event handlers of the Storage and Verification SCP.

The C-STORE handler only validates, persists durably, reports and answers (principle
"receive fast, work later"); it never raises: any exception becomes a failure status,
is logged with its traceback and reported, and the association thread goes on.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
import uuid
import weakref
from typing import cast

from pynetdicom import evt
from pynetdicom.association import Association
from pynetdicom.events import Event

from dicomnode.scp.access import AccessPolicy
from dicomnode.scp.admission import RefusalError, admit
from dicomnode.scp.events import (
    AssociationAccepted,
    AssociationEnded,
    AssociationInfo,
    AssociationRefused,
    InstanceRefused,
    InstanceStored,
    ReceiveEvent,
    ReceiveSink,
)
from dicomnode.scp.part10 import part10_file
from dicomnode.scp.slots import AssociationCounts
from dicomnode.scp.spool import SpoolError, SpoolWriter
from dicomnode.scp.status import StoreStatus
from dicomnode.scp.uids import MAX_UID_LENGTH
from dicomnode.scp.watermark import DiskWatermark

LOGGER = logging.getLogger(__name__)

_REJECTED_PERMANENT = 0x01
_REJECTED_TRANSIENT = 0x02
_SOURCE_SERVICE_USER = 0x01
_SOURCE_SERVICE_PROVIDER_PRESENTATION = 0x03
_TEMPORARY_CONGESTION = 0x01
_LOCAL_LIMIT_EXCEEDED = 0x02


class _StoreRefusalError(Exception):
    """A C-STORE request that is answered with a failure status and a reason."""

    def __init__(self, status: StoreStatus, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def _clip(value: object) -> str:
    """A wire value as a short string for the record (never a path)."""
    return str(value if value is not None else "")[:MAX_UID_LENGTH]


class StorageScpHandlers:
    """Handlers for one pynetdicom AE: access control, C-ECHO, C-STORE and bookkeeping.

    Parameters
    ----------
    policy : AccessPolicy
        Decides which association requests are accepted.
    spool : SpoolWriter
        Writes received instances durably.
    sink : ReceiveSink
        Receives a record of every association and instance outcome.
    watermark : DiskWatermark, optional
        When the spool's disk is below it, new associations are refused (transient).
    max_associations : int, optional
        Most established associations of the node (all receiving processes, see
        ``counts``); a request beyond it is rejected (transient, local limit exceeded).
        None: no limit of our own.
    counts : AssociationCounts, optional
        Established associations of every receiving process; without it only this AE's
        are counted.
    """

    def __init__(
        self,
        policy: AccessPolicy,
        spool: SpoolWriter,
        sink: ReceiveSink,
        watermark: DiskWatermark | None = None,
        max_associations: int | None = None,
        counts: AssociationCounts | None = None,
    ) -> None:
        self._policy = policy
        self._max_associations = max_associations
        self._counts = counts or AssociationCounts([0], 0)
        self._watermark = watermark
        self._spool = spool
        self._sink = sink
        self._associations: weakref.WeakKeyDictionary[Association, AssociationInfo] = (
            weakref.WeakKeyDictionary()
        )
        self._lock = threading.Lock()

    def handlers(self) -> list[evt.EventHandlerType]:
        """The ``(event, handler)`` pairs to bind to the server."""
        return [
            (evt.EVT_CONN_OPEN, self.on_connection_open),
            (evt.EVT_REQUESTED, self.on_association_requested),
            (evt.EVT_ACCEPTED, self.on_association_accepted),
            (evt.EVT_RELEASED, self.on_association_ended),
            (evt.EVT_ABORTED, self.on_association_ended),
            (evt.EVT_C_ECHO, self.on_c_echo),
            (evt.EVT_C_STORE, self.on_c_store),
        ]

    # Connection and association -------------------------------------------------------

    @staticmethod
    def on_connection_open(event: Event) -> None:
        """Set TCP_NODELAY on the accepted socket (small responses must not wait ~40 ms)."""
        try:
            raw = event.assoc.dul.socket.socket  # type: ignore[union-attr]
            if raw is not None:
                raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except (AttributeError, OSError):
            LOGGER.warning("could not set TCP_NODELAY on an accepted socket", exc_info=True)

    def _info(self, assoc: Association) -> AssociationInfo:
        with self._lock:
            info = self._associations.get(assoc)
            if info is None:
                primitive = assoc.requestor.primitive
                info = AssociationInfo(
                    key=uuid.uuid4().hex,
                    calling_aet=_clip(primitive.calling_ae_title if primitive else "").strip(),
                    called_aet=_clip(primitive.called_ae_title if primitive else "").strip(),
                    address=str(assoc.requestor.address),
                    port=int(assoc.requestor.port or 0),
                )
                self._associations[assoc] = info
            return info

    def on_association_requested(self, event: Event) -> None:
        """Apply access control (permanent A-ASSOCIATE-RJ), the spool's disk-space
        watermark (transient, temporary congestion) and the limit of established
        associations (transient, local limit exceeded); report a rejection."""
        try:
            info = self._info(event.assoc)
            rejection = self._policy.check(info.called_aet, info.calling_aet, info.address)
            full = None if self._watermark is None else self._watermark.problem()
            busy = self._association_limit_reached(event.assoc)
        except Exception:  # never let a handler exception kill the association thread
            LOGGER.exception("access check failed; rejecting the association")
            self._reject(event.assoc, 0x01)
            return
        if rejection is not None:
            LOGGER.warning("association rejected: %s", rejection.reason)
            self._publish(AssociationRefused(info, rejection.reason, time.time()))
            self._reject(event.assoc, int(rejection.diagnostic))
        elif full is not None or busy is not None:
            reason = cast(str, full or busy)
            LOGGER.warning("association rejected (transient): %s", reason)
            self._publish(AssociationRefused(info, reason, time.time()))
            self._reject(
                event.assoc,
                _TEMPORARY_CONGESTION if full is not None else _LOCAL_LIMIT_EXCEEDED,
                result=_REJECTED_TRANSIENT,
                source=_SOURCE_SERVICE_PROVIDER_PRESENTATION,
            )

    def _publish_established(self, assoc: Association) -> None:
        """Publish how many associations this process has established now."""
        self._counts.publish(
            sum(1 for other in assoc.ae.active_associations if other.is_established)
        )

    def _association_limit_reached(self, assoc: Association) -> str | None:
        """Why a new association exceeds :attr:`_max_associations`, or None."""
        self._publish_established(assoc)
        if self._max_associations is None or self._counts.total() < self._max_associations:
            return None
        return f"local limit of {self._max_associations} established associations reached"

    @staticmethod
    def _reject(
        assoc: Association,
        diagnostic: int,
        *,
        result: int = _REJECTED_PERMANENT,
        source: int = _SOURCE_SERVICE_USER,
    ) -> None:
        """Send an A-ASSOCIATE-RJ (permanent by default) and wait until it has left (as
        pynetdicom does)."""
        assoc.acse.send_reject(result, source, diagnostic)
        evt.trigger(assoc, evt.EVT_REJECTED, {})
        assoc.kill()

    def on_association_accepted(self, event: Event) -> None:
        """Report an accepted association."""
        self._publish_established(event.assoc)
        self._publish(AssociationAccepted(self._info(event.assoc), time.time()))

    def on_association_ended(self, event: Event) -> None:
        """Report a released or aborted association."""
        self._publish_established(event.assoc)
        self._publish(
            AssociationEnded(self._info(event.assoc), event.event is evt.EVT_ABORTED, time.time())
        )

    # DIMSE services ---------------------------------------------------------------

    @staticmethod
    def on_c_echo(event: Event) -> int:
        """Answer a C-ECHO (Verification) with success."""
        return int(StoreStatus.SUCCESS)

    def on_c_store(self, event: Event) -> int:
        """Validate, store durably, report, and answer a C-STORE request.

        Returns
        -------
        int
            0x0000 only once the file is durable; 0xA700 on disk trouble; 0xC210-0xC212
            for data that does not parse to its end or invalid UIDs; 0xA900 for Pixel
            Data missing or not fitting the image geometry; 0x0110 for an unexpected
            error (the only one logged with a traceback).
        """
        request = event.request
        sop_class = _clip(getattr(request, "AffectedSOPClassUID", ""))
        sop_instance = _clip(getattr(request, "AffectedSOPInstanceUID", ""))
        try:
            info = self._info(event.assoc)
            stored = self._store(event, info)
        except _StoreRefusalError as refusal:
            return self._refuse(event, sop_class, sop_instance, refusal.status, refusal.reason)
        except Exception as exc:
            LOGGER.exception("unexpected error while storing an instance")
            return self._refuse(
                event,
                sop_class,
                sop_instance,
                StoreStatus.PROCESSING_FAILURE,
                f"internal error: {type(exc).__name__}",
            )
        self._publish(stored)
        return int(StoreStatus.SUCCESS)

    def _store(self, event: Event, info: AssociationInfo) -> InstanceStored:
        request = event.request
        sop_class = str(getattr(request, "AffectedSOPClassUID", "") or "")
        sop_instance = str(getattr(request, "AffectedSOPInstanceUID", "") or "")
        transfer_syntax = str(event.context.transfer_syntax)
        data_set = event.encoded_dataset(include_meta=False)
        try:
            header = admit(data_set, transfer_syntax, sop_class, sop_instance)
        except RefusalError as exc:
            raise _StoreRefusalError(exc.status, exc.reason) from exc
        study, series = header.study_instance_uid, header.series_instance_uid
        data = part10_file(sop_class, sop_instance, transfer_syntax, data_set)
        try:
            spooled = self._spool.write(study, series, sop_instance, data)
        except SpoolError as exc:
            LOGGER.error("spool write failed: %s", exc)
            raise _StoreRefusalError(StoreStatus.OUT_OF_RESOURCES, str(exc)) from exc
        return InstanceStored(
            association=info,
            sop_class_uid=sop_class,
            sop_instance_uid=sop_instance,
            study_instance_uid=study,
            series_instance_uid=series,
            transfer_syntax_uid=transfer_syntax,
            path=str(spooled.path),
            size_bytes=spooled.size_bytes,
            replaced=spooled.replaced,
            header=header.fields,
            at=time.time(),
            assumed=header.assumed,
        )

    def _refuse(
        self, event: Event, sop_class: str, sop_instance: str, status: StoreStatus, reason: str
    ) -> int:
        LOGGER.warning("C-STORE refused with 0x%04X: %s", int(status), reason)
        try:
            info = self._info(event.assoc)
        except Exception:
            LOGGER.exception("could not describe the association of a refused instance")
        else:
            self._publish(
                InstanceRefused(info, sop_class, sop_instance, int(status), reason, time.time())
            )
        return int(status)

    def _publish(self, event: ReceiveEvent) -> None:
        """Hand a record to the sink; a failing sink is logged, never raised."""
        try:
            self._sink.publish(event)
        except Exception:
            LOGGER.exception("could not publish a receive event; the spool scan recovers it")
