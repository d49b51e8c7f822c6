"""The fork's association loop: blocks on the DIMSE message queue, never polls.

Part of the pynetdicom fork (:mod:`dicomnode.scp._fork`). pynetdicom 3.0's acceptor thread
sleeps 1 ms before every look for a complete DIMSE message; :class:`EventDrivenAssociation`
blocks on the message queue instead (the DUL, :mod:`dicomnode.scp._dul_reactor`, also
queues a wake-up when an A-RELEASE-RQ arrives) and handles a release, an abort, a dead DUL
and the network timeout as pynetdicom's loop does, ``network_timeout_response`` included.
:class:`EventDrivenRequestHandler` builds these associations on a
:class:`~dicomnode.scp._transport.GuardedSocket`, with the direct C-STORE provider
(:class:`~dicomnode.scp._store_dimse.StoreDimse`) or pynetdicom's own
(:class:`~dicomnode.scp._store_dimse.BoundedDimse`, :class:`PynetdicomDimseRequestHandler`).

Follows pynetdicom 3.0.4's ``Association._run_reactor`` and
``RequestHandler._create_association``; re-check them against the source when upgrading
pynetdicom.
"""

from __future__ import annotations

import logging
import queue
from datetime import datetime
from typing import ClassVar, cast

from pynetdicom import evt
from pynetdicom._globals import MODE_ACCEPTOR
from pynetdicom.association import Association
from pynetdicom.transport import RequestHandler

from dicomnode.scp._dul_reactor import IDLE_WAIT_S, WakeableDul
from dicomnode.scp._store_dimse import BoundedDimse, StoreDimse
from dicomnode.scp._transport import GuardedSocket
from dicomnode.scp.guard import ConnectionGuard
from dicomnode.scp.pdu import RefusalReason

LOGGER = logging.getLogger(__name__)

A_RELEASE = "A-RELEASE"
"""``Association.network_timeout_response`` value asking for a release on the timeout
(anything else aborts, as in pynetdicom)."""


class EventDrivenAssociation(Association):
    """An acceptor association whose reactor blocks on the DIMSE message queue.

    Parameters
    ----------
    ae : pynetdicom.AE
        The application entity.
    mode : str
        ``"acceptor"``.
    dimse_class : type of BoundedDimse
        The DIMSE provider: :class:`StoreDimse` (direct C-STORE) or :class:`BoundedDimse`
        (pynetdicom's own decoding and encoding).
    """

    def __init__(self, ae: object, mode: str, dimse_class: type[BoundedDimse]) -> None:
        super().__init__(ae, mode)  # type: ignore[arg-type]
        self.dul = WakeableDul(self)
        self.dimse: BoundedDimse = dimse_class(self)
        # These setters configure the DUL's ARTIM and idle timers: apply them to ours.
        self.acse_timeout = self.ae.acse_timeout
        self.network_timeout = self.ae.network_timeout

    def run_reactor(self) -> None:
        """pynetdicom's acceptor thread; an exception in it (pynetdicom fails on some
        requests it cannot negotiate) aborts the association and is recorded as a refusal
        instead of leaving the DUL thread and the connection behind."""
        try:
            super().run_reactor()
        except Exception as exc:
            transport = cast(GuardedSocket, self.dul.socket)
            transport.refuse(
                RefusalReason.PROTOCOL_ERROR,
                f"association ended by an error in pynetdicom ({type(exc).__name__})",
            )
            self.is_aborted = True
            self.kill()

    def _run_reactor(self) -> None:
        self._is_paused = False
        while not self._kill:
            # Let send_*() callers pause the reactor (see pynetdicom's Association).
            self._is_paused = True
            self._reactor_checkpoint.wait()
            self._is_paused = False
            try:
                context_id, msg = self.dimse.msg_queue.get(timeout=IDLE_WAIT_S)
            except queue.Empty:
                context_id, msg = None, None
            if msg:
                self._serve_request(msg, cast(int, context_id))
            if self._ended():
                return

    def _ended(self) -> bool:
        """Handle a release, abort, dead DUL or network timeout; whether the loop ends."""
        if self.is_established and self.acse.is_release_requested():
            self.acse.send_release(is_response=True)
            self.is_released = True
            self.is_established = False
            evt.trigger(self, evt.EVT_RELEASED, {})
            self.kill()
            return True
        if self.acse.is_aborted():
            self.dul.receive_pdu(wait=False)  # so that EVT_ACSE_RECV fires
            self.is_aborted = True
            self.is_established = False
            evt.trigger(self, evt.EVT_ABORTED, {})
            self.kill()
            return True
        if not self.dul.is_alive():
            self.kill()
            return True
        if self.dul.idle_timer_expired():
            self._on_network_timeout()
            self.kill()
            return True
        return False

    def _on_network_timeout(self) -> None:
        """Release (``network_timeout_response`` "A-RELEASE") or abort the association,
        as pynetdicom's loop does; the release waits for the peer's reply for the ACSE
        timeout and aborts without one."""
        if self.network_timeout_response == A_RELEASE:
            LOGGER.warning("network timeout reached; releasing the association")
            # This thread is the reactor: mark it paused so that release() proceeds.
            self._is_paused = True
            self._reactor_checkpoint.wait()
            self.release()
            self._is_paused = False
        else:
            LOGGER.warning("network timeout reached; aborting the association")
            self.abort()


class EventDrivenRequestHandler(RequestHandler):
    """pynetdicom's connection handler, creating :class:`EventDrivenAssociation` objects
    with the direct C-STORE provider on a guarded socket (set ``server.guard``)."""

    dimse_class: ClassVar[type[BoundedDimse]] = StoreDimse
    """The DIMSE provider of the associations."""

    def _create_association(self) -> Association:
        """Create and configure the acceptor association, as pynetdicom 3.0.4 does."""
        assoc = EventDrivenAssociation(self.ae, MODE_ACCEPTOR, self.dimse_class)
        assoc._server = self.server
        assoc.name = f"AcceptorThread@{datetime.now():%Y%m%d%H%M%S}"
        guard = cast(ConnectionGuard, self.server.guard)  # type: ignore[attr-defined]
        address, port = self.client_address[0], int(self.client_address[1])
        transport = GuardedSocket(assoc, self.request, guard, address, port)
        assoc.set_socket(transport)
        assoc.dimse.data_set_limit = transport
        assoc.acceptor.maximum_length = self.ae.maximum_pdu_size
        assoc.acceptor.ae_title = self.server.ae_title
        assoc.acceptor.address_info = self.local
        assoc.acceptor.implementation_class_uid = self.ae.implementation_class_uid
        assoc.acceptor.implementation_version_name = self.ae.implementation_version_name
        # Negotiation only reads these (it builds new result contexts); pynetdicom's deep
        # copy of ~150 SOP classes x ~30 transfer syntaxes cost ~0.1 s per association.
        assoc.acceptor.supported_contexts = list(self.server.contexts)
        assoc.requestor.address_info = self.remote
        for event, handlers in self.server._handlers.items():
            if event.is_intervention and handlers:
                assoc.bind(event, *handlers)
            elif isinstance(event, evt.NotificationEvent):
                for handler, args in handlers:  # type: ignore[misc]
                    assoc.bind(event, handler, args)
        return assoc


class PynetdicomDimseRequestHandler(EventDrivenRequestHandler):
    """:class:`EventDrivenRequestHandler` with pynetdicom's own DIMSE decoding and encoding
    (``scp.direct_store: false``)."""

    dimse_class = BoundedDimse
