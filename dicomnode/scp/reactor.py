"""Event-driven reactors for pynetdicom's acceptor associations (receive latency).

pynetdicom 3.0 runs two polling loops per association: the DUL thread sleeps 1 ms whenever
it finds nothing to do, and the association thread sleeps 1 ms before every look for a
complete DIMSE message. A C-STORE crosses both loops twice (request in, response out), so
every instance waits several milliseconds for nothing, which at one sender costs about as
much as receiving it. Here the DUL thread waits in ``select`` on its socket and a wake-up
socket pair (written whenever a primitive is queued for sending), and the association thread
blocks on the DIMSE message queue; both wake at once when there is work and use no CPU
while idle.

The DUL reads every PDU through :class:`GuardedSocket` (:mod:`dicomnode.scp.pdu`: bounded
memory, a deadline per PDU and for the association negotiation); a PDU it cannot read or
decode, or an exception of pynetdicom's state machine or negotiation on a hostile request,
becomes one recorded refusal, an A-ABORT and a closed connection instead of a logged
traceback and a leaked thread (:mod:`dicomnode.scp.guard`).

The loops follow pynetdicom 3.0.4's ``DULServiceProvider.run_reactor``,
``DULServiceProvider._read_pdu_data`` and ``Association._run_reactor`` (the version is
pinned in ``pyproject.toml``). Re-check them against the source when upgrading pynetdicom.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import select
import socket
import ssl
import time
from datetime import datetime
from typing import cast

from pynetdicom import evt
from pynetdicom._globals import MODE_ACCEPTOR
from pynetdicom.association import Association
from pynetdicom.dul import DULServiceProvider
from pynetdicom.pdu import A_ABORT_RQ
from pynetdicom.transport import AssociationSocket, RequestHandler

from dicomnode.scp.dimse import StoreDimse
from dicomnode.scp.guard import ConnectionGuard
from dicomnode.scp.pdu import PduRefusedError, RefusalReason, read_pdu

LOGGER = logging.getLogger(__name__)

IDLE_WAIT_S = 0.02
"""Longest wait of either loop before it re-checks timers and flags, in seconds; it bounds
how late the ARTIM and idle timers are noticed, never data or a release request."""


ABORT_SEND_TIMEOUT_S = 1.0
"""Longest wait to send the A-ABORT of a refused connection, in seconds."""

_ABORT_SOURCE_PROVIDER = 0x02
_ABORT_DIAGNOSTIC: dict[RefusalReason, int | None] = {
    RefusalReason.UNKNOWN_PDU_TYPE: 0x01,  # unrecognized-PDU
    RefusalReason.PDU_TOO_LARGE: 0x06,  # invalid-PDU-parameter-value
    RefusalReason.MALFORMED_PDU: 0x06,
    RefusalReason.PDU_DEADLINE: 0x00,  # reason-not-specified
    RefusalReason.ASSOCIATION_DEADLINE: 0x00,
    RefusalReason.PROTOCOL_ERROR: 0x02,  # unexpected-PDU
    RefusalReason.DATA_SET_TOO_LARGE: 0x00,
    RefusalReason.TRUNCATED_PDU: None,  # the peer is gone
    RefusalReason.ADDRESS_LIMIT: None,
}
"""A-ABORT reason/diagnostic (PS3.8 Table 9-26) sent for each refusal; None: none sent."""


class WakeableDul(DULServiceProvider):
    """A DUL provider that sleeps in ``select`` on its socket and a wake-up socket pair.

    Parameters
    ----------
    assoc : Association
        The association this provider serves.
    """

    def __init__(self, assoc: Association) -> None:
        super().__init__(assoc)
        self._waiting = False
        # A socket pair, not os.pipe(): once closed, a late write fails instead of reaching
        # whatever file reuses the descriptor number.
        self._wake_read, self._wake_write = socket.socketpair()
        self._wake_read.setblocking(False)
        self._wake_write.setblocking(False)

    def send_pdu(self, primitive: object) -> None:
        """Queue a primitive for sending (as pynetdicom does) and wake the reactor."""
        super().send_pdu(primitive)  # type: ignore[arg-type]
        self._wake()

    def kill_dul(self) -> None:
        """Stop the reactor without waiting for its idle timeout."""
        super().kill_dul()
        self._wake()

    def _wake(self) -> None:
        """Write the socket pair if the reactor waits (or is about to: it sets ``_waiting`` before
        its last look at the send queue, and callers queue before they call this)."""
        if self._waiting:
            with contextlib.suppress(OSError):  # buffer full (already woken) or closed
                self._wake_write.send(b"\0")

    def _wait_for_work(self) -> None:
        """Block until the socket is readable, the socket pair is written or :data:`IDLE_WAIT_S`."""
        transport = cast(AssociationSocket | None, self.socket)
        raw = transport.socket if transport is not None else None
        if isinstance(raw, ssl.SSLSocket) and raw.pending():
            return  # decrypted bytes already buffered: select would not see them
        self._waiting = True
        try:
            if not self.to_provider_queue.empty() or self._kill_thread:
                return

            watched = [self._wake_read] if raw is None else [raw, self._wake_read]
            select.select(watched, [], [], IDLE_WAIT_S)
        except (OSError, ValueError):  # socket closed under us: the next read reports it
            time.sleep(self._run_loop_delay)
        finally:
            self._waiting = False
        with contextlib.suppress(OSError):  # BlockingIOError once drained
            while self._wake_read.recv(4096):
                pass

    def run_reactor(self) -> None:
        """Run the DUL loop: one PDU in or one primitive out per pass, sleeping in
        :meth:`_wait_for_work` only when a pass found nothing to do."""
        try:
            self._run_loop()
        finally:
            self._wake_read.close()
            self._wake_write.close()

    def _run_loop(self) -> None:
        self._idle_timer.start()
        idle = False
        while True:
            if not self.assoc._dul_ready.is_set():
                self.assoc._dul_ready.set()
            if idle:
                self._wait_for_work()
            if self._kill_thread:
                break
            if self.artim_timer.expired:
                self.event_queue.put("Evt18")
            try:
                if self._process_recv_primitive():
                    pass
                elif self._is_transport_event():
                    self._idle_timer.restart()
            except Exception:
                LOGGER.exception("exception in the DUL reactor; aborting the association")
                self._abort_hard()
                return
            try:
                event = self.event_queue.get(block=False)
            except queue.Empty:
                idle = True
                continue
            try:
                self.state_machine.do_action(event)
            except Exception as exc:  # pynetdicom's actions fail on some PDUs they decoded
                self._refuse(
                    PduRefusedError(
                        RefusalReason.PROTOCOL_ERROR,
                        f"{event} could not be handled ({type(exc).__name__})",
                    )
                )
                self._kill_thread = True
                return
            if event == "Evt12":  # A-RELEASE-RQ received: the association reactor answers
                self.assoc.dimse.msg_queue.put((None, None))  # now, not at its next timeout
            idle = False

    def _read_pdu_data(self) -> None:
        """Read and decode one PDU (replaces pynetdicom's: bounded memory, deadlines, and
        one refusal record instead of a logged traceback for a bad PDU)."""
        transport = cast(GuardedSocket, self.socket)
        try:
            data = transport.read_pdu(self.assoc.is_established)
            if data is None:
                transport.close()
                return
            try:
                pdu, event = self._decode_pdu(data)
            except Exception as exc:  # pynetdicom's decoders raise anything on bad bytes
                raise PduRefusedError(
                    RefusalReason.MALFORMED_PDU,
                    f"PDU type 0x{data[0]:02X} cannot be decoded ({type(exc).__name__})",
                ) from exc
        except PduRefusedError as refusal:
            self._refuse(refusal)
            return
        self.event_queue.put(event)
        self._recv_pdu.put(pdu)

    def _refuse(self, refusal: PduRefusedError) -> None:
        """Record the refusal, abort and close the connection, and end the association."""
        cast(GuardedSocket, self.socket).refuse(
            refusal.reason, refusal.detail, _ABORT_DIAGNOSTIC[refusal.reason]
        )
        if not self.assoc.is_established:  # the association thread may wait for an
            self.to_user_queue.put(None)  # type: ignore[arg-type,unused-ignore]  # A-ASSOCIATE

    def _abort_hard(self) -> None:
        """Send an A-ABORT bypassing the state machine and stop both loops (as pynetdicom)."""
        abort_pdu = A_ABORT_RQ()
        abort_pdu.source = 0x02
        abort_pdu.reason_diagnostic = 0x00
        cast(AssociationSocket, self.socket).send(abort_pdu.encode())
        self.assoc.is_aborted = True
        self.assoc.is_established = False
        self.assoc._kill = True
        self._kill_thread = True


class GuardedSocket(AssociationSocket):
    """pynetdicom's socket wrapper for an accepted connection, reading whole PDUs within
    the limits and deadlines of a :class:`~dicomnode.scp.guard.ConnectionGuard`.

    Parameters
    ----------
    assoc : Association
        The association the connection serves.
    client_socket : socket.socket
        The accepted connection.
    guard : ConnectionGuard
        Limits of this receiving process and where refusals go.
    address : str
        The peer's IP address; its connection slot (counted when the connection was
        accepted) is released when the socket is closed.
    port : int
        The peer's TCP port.
    """

    def __init__(
        self,
        assoc: Association,
        client_socket: socket.socket,
        guard: ConnectionGuard,
        address: str,
        port: int,
    ) -> None:
        super().__init__(assoc, client_socket=client_socket)
        self._guard = guard
        self._peer = (address, port)
        self._opened_at = time.monotonic()
        self._released = False

    def read_pdu(self, established: bool) -> bytearray | None:
        """Read one whole PDU (see :func:`dicomnode.scp.pdu.read_pdu`); before the
        association is established the ACSE timeout since connection bounds it too."""
        now = time.monotonic()
        deadline = now + self._guard.pdu_timeout_s
        reason = RefusalReason.PDU_DEADLINE
        association_deadline = self._opened_at + self._guard.association_timeout_s
        if not established and association_deadline < deadline:
            deadline, reason = association_deadline, RefusalReason.ASSOCIATION_DEADLINE
        raw = cast(socket.socket, self.socket)
        return read_pdu(raw, self._guard.maximum_pdu_length, deadline, reason)

    @property
    def max_data_set_bytes(self) -> int:
        """Largest data set accepted in one DIMSE message on this connection, in bytes."""
        return self._guard.max_data_set_bytes

    def refuse_data_set(self, size_bytes: int) -> None:
        """Abort the association: a data set grew beyond :attr:`max_data_set_bytes`."""
        self.refuse(
            RefusalReason.DATA_SET_TOO_LARGE,
            f"data set of more than {size_bytes} bytes, at most {self.max_data_set_bytes}",
            _ABORT_DIAGNOSTIC[RefusalReason.DATA_SET_TOO_LARGE],
        )

    def refuse(self, reason: RefusalReason, detail: str, abort_diagnostic: int | None) -> None:
        """Record a refusal, send an A-ABORT (service provider) where the peer may still
        read it, and close the connection (pynetdicom's close queues Evt17)."""
        self._guard.refuse(*self._peer, reason, detail)
        raw = self.socket
        if abort_diagnostic is not None and raw is not None:
            abort = A_ABORT_RQ()
            abort.source = _ABORT_SOURCE_PROVIDER
            abort.reason_diagnostic = abort_diagnostic
            with contextlib.suppress(OSError):
                raw.settimeout(ABORT_SEND_TIMEOUT_S)
                raw.sendall(abort.encode())
        self.close()

    def _shutdown_socket(self) -> None:
        """Shut the connection down and always close it (pynetdicom skips the close when the
        shutdown fails, leaking the descriptor), then release the address's slot once."""
        raw = self.socket
        if raw is not None:
            with contextlib.suppress(OSError):
                raw.shutdown(socket.SHUT_RDWR)
            with contextlib.suppress(OSError):
                raw.close()
        if not self._released:
            self._released = True
            self._guard.slots.release(self._peer[0])


class EventDrivenAssociation(Association):
    """An acceptor association whose reactor blocks on the DIMSE message queue and whose C-STORE
    requests and responses are decoded and encoded directly (:mod:`dicomnode.scp.dimse`)."""

    def __init__(self, ae: object, mode: str) -> None:
        super().__init__(ae, mode)  # type: ignore[arg-type]
        self.dul = WakeableDul(self)
        self.dimse: StoreDimse = StoreDimse(self)
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
                _ABORT_DIAGNOSTIC[RefusalReason.PROTOCOL_ERROR],
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
            LOGGER.warning("network timeout reached; aborting the association")
            self.abort()
            self.kill()
            return True
        return False


class EventDrivenRequestHandler(RequestHandler):
    """pynetdicom's connection handler, creating :class:`EventDrivenAssociation` objects."""

    def _create_association(self) -> Association:
        """Create and configure the acceptor association, as pynetdicom 3.0.4 does."""
        assoc = EventDrivenAssociation(self.ae, MODE_ACCEPTOR)
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
