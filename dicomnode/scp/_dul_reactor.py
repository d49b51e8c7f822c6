"""The fork's DUL loop: wakes on socket data or a queued primitive, never polls.

Part of the pynetdicom fork (:mod:`dicomnode.scp._fork`). pynetdicom 3.0's DUL thread
sleeps 1 ms whenever it finds nothing to do; a C-STORE crosses it twice (request in,
response out). :class:`WakeableDul` waits in ``select`` on its socket and a wake-up socket
pair (written whenever a primitive is queued for sending), so it wakes at once when there
is work and uses no CPU while idle.

Every PDU is read through :class:`~dicomnode.scp._transport.GuardedSocket` (bounded memory,
deadlines); a PDU it cannot read or decode, or an exception of pynetdicom's state machine
on a hostile request, becomes one recorded refusal, an A-ABORT and a closed connection
instead of a logged traceback and a leaked thread (:mod:`dicomnode.scp.guard`).

Follows pynetdicom 3.0.4's ``DULServiceProvider.run_reactor`` and
``DULServiceProvider._read_pdu_data``; re-check them against the source when upgrading
pynetdicom.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import select
import socket
import ssl
import time
from typing import cast

from pynetdicom.association import Association
from pynetdicom.dul import DULServiceProvider
from pynetdicom.pdu import A_ABORT_RQ
from pynetdicom.transport import AssociationSocket

from dicomnode.scp._transport import ABORT_SOURCE_PROVIDER, GuardedSocket
from dicomnode.scp.pdu import PduRefusedError, RefusalReason

LOGGER = logging.getLogger(__name__)

IDLE_WAIT_S = 0.02
"""Longest wait of either loop (this and :mod:`dicomnode.scp._assoc_reactor`) before it
re-checks timers and flags, in seconds; it bounds how late the ARTIM and idle timers are
noticed, never data or a release request."""


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
        cast(GuardedSocket, self.socket).refuse(refusal.reason, refusal.detail)
        if not self.assoc.is_established:  # the association thread may wait for an
            self.to_user_queue.put(None)  # type: ignore[arg-type,unused-ignore]  # A-ASSOCIATE

    def _abort_hard(self) -> None:
        """Send an A-ABORT bypassing the state machine and stop both loops (as pynetdicom)."""
        abort_pdu = A_ABORT_RQ()
        abort_pdu.source = ABORT_SOURCE_PROVIDER
        abort_pdu.reason_diagnostic = 0x00
        cast(AssociationSocket, self.socket).send(abort_pdu.encode())
        self.assoc.is_aborted = True
        self.assoc.is_established = False
        self.assoc._kill = True
        self._kill_thread = True
