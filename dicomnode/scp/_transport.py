"""The accepted connection of the fork: whole PDUs read within the connection's limits.

Part of the pynetdicom fork (:mod:`dicomnode.scp._fork`). pynetdicom's
``AssociationSocket`` reads a PDU's header and then as many bytes as the header claims,
without a deadline. :class:`GuardedSocket` is that socket with the reads of
:func:`dicomnode.scp.pdu.read_pdu` (bounded memory, a deadline per PDU and for the
association negotiation), refusals that are recorded and answered with an A-ABORT, and a
close that always frees the descriptor and the address's connection slot.

Follows pynetdicom 3.0.4's ``AssociationSocket``; re-check ``close`` and
``_shutdown_socket`` against the source when upgrading pynetdicom.
"""

from __future__ import annotations

import contextlib
import socket
import time
from typing import cast

from pynetdicom.association import Association
from pynetdicom.pdu import A_ABORT_RQ
from pynetdicom.transport import AssociationSocket

from dicomnode.scp.guard import ConnectionGuard
from dicomnode.scp.pdu import RefusalReason, read_pdu

ABORT_SEND_TIMEOUT_S = 1.0
"""Longest wait to send the A-ABORT of a refused connection, in seconds."""

ABORT_SOURCE_PROVIDER = 0x02
"""A-ABORT source (PS3.8 Table 9-26): DICOM UL service-provider."""

ABORT_DIAGNOSTIC: dict[RefusalReason, int | None] = {
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
        )

    def refuse(self, reason: RefusalReason, detail: str) -> None:
        """Record a refusal, send an A-ABORT (service provider, the diagnostic of
        :data:`ABORT_DIAGNOSTIC`) where the peer may still read it, and close the
        connection (pynetdicom's close queues Evt17)."""
        self._guard.refuse(*self._peer, reason, detail)
        raw = self.socket
        diagnostic = ABORT_DIAGNOSTIC[reason]
        if diagnostic is not None and raw is not None:
            abort = A_ABORT_RQ()
            abort.source = ABORT_SOURCE_PROVIDER
            abort.reason_diagnostic = diagnostic
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
