"""Reading one PDU from an accepted connection with bounded memory and a deadline.

pynetdicom reads a PDU's 6-byte header and then as many bytes as the header claims. The
node reads them here instead, so that nothing a peer claims is allocated before it is sent:

- a PDU type that PS3.8 Table 9-1 does not define, or a length above the limit of the
  association's state (an A-ASSOCIATE-RQ before the association is established, the
  Maximum Length we negotiated after), is refused before its body is read;
- the body is read into a buffer that grows with what actually arrives (at most
  :data:`FIRST_ALLOCATION_BYTES` before the first bytes of it, then doubling), never into
  one allocation of the claimed length;
- the whole PDU must arrive before a deadline; a peer that sends part of a PDU and waits
  is refused when it passes, and its connection (and thread) is freed.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import time
from collections.abc import Callable
from enum import StrEnum

PDU_HEADER_BYTES = 6
"""PDU-type (1), reserved (1) and PDU-length (4), PS3.8 Section 9.3."""

PDU_TYPES = frozenset({0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07})
"""The PDU types of PS3.8 Table 9-1 (A-ASSOCIATE-RQ to A-ABORT)."""

FIRST_ALLOCATION_BYTES = 256 * 1024
"""Most bytes allocated for a PDU body before any of it has arrived; larger bodies grow
by doubling as their bytes arrive (a 512x512 CT slice comes in PDUs below this size from
DCMTK, so the common case is one allocation)."""


class RefusalReason(StrEnum):
    """Why the node refused (closed) a connection; the label of the refusal metrics."""

    UNKNOWN_PDU_TYPE = "unknown_pdu_type"
    PDU_TOO_LARGE = "pdu_too_large"
    PDU_DEADLINE = "pdu_deadline"
    ASSOCIATION_DEADLINE = "association_deadline"
    TRUNCATED_PDU = "truncated_pdu"
    MALFORMED_PDU = "malformed_pdu"
    PROTOCOL_ERROR = "protocol_error"
    DATA_SET_TOO_LARGE = "data_set_too_large"
    ADDRESS_LIMIT = "address_limit"


class PduRefusedError(Exception):
    """A PDU the node does not read further; the connection is to be aborted.

    Parameters
    ----------
    reason : RefusalReason
        The refusal's kind.
    detail : str
        One line for the record (never a received value other than sizes and types).
    """

    def __init__(self, reason: RefusalReason, detail: str) -> None:
        super().__init__(f"{reason.value}: {detail}")
        self.reason = reason
        self.detail = detail


def read_pdu(
    sock: socket.socket,
    max_length: Callable[[int], int],
    deadline: float,
    deadline_reason: RefusalReason = RefusalReason.PDU_DEADLINE,
    clock: Callable[[], float] = time.monotonic,
) -> bytearray | None:
    """Read one whole PDU (header and body) from ``sock``.

    Parameters
    ----------
    sock : socket.socket
        The connection (plain or TLS); left blocking without a timeout on return.
    max_length : callable
        Largest PDU-length (the body, without the 6-byte header) accepted for a PDU type,
        in bytes.
    deadline : float
        Time by which the whole PDU must have arrived, on the scale of ``clock`` (s).
    deadline_reason : RefusalReason
        The reason reported when ``deadline`` passes (the PDU's or the association's).
    clock : callable
        Monotonic clock in seconds.

    Returns
    -------
    bytearray or None
        The PDU's bytes; None if the peer closed the connection before sending any byte.

    Raises
    ------
    PduRefusedError
        Unknown PDU type, a length above its limit, the deadline passed, or the
        connection closed in the middle of the PDU.
    """
    try:
        header = _read_exactly(sock, PDU_HEADER_BYTES, deadline, deadline_reason, clock)
        if not header:
            return None
        if len(header) < PDU_HEADER_BYTES:
            raise PduRefusedError(
                RefusalReason.TRUNCATED_PDU, f"connection closed after {len(header)} bytes"
            )
        pdu_type, _, length = struct.unpack(">BBL", header)
        if pdu_type not in PDU_TYPES:
            raise PduRefusedError(
                RefusalReason.UNKNOWN_PDU_TYPE, f"PDU type 0x{pdu_type:02X} is not defined"
            )
        limit = max_length(pdu_type)
        if length > limit:
            raise PduRefusedError(
                RefusalReason.PDU_TOO_LARGE,
                f"PDU type 0x{pdu_type:02X} claims {length} bytes, at most {limit} accepted",
            )
        body = _read_exactly(sock, length, deadline, deadline_reason, clock)
        if len(body) < length:
            raise PduRefusedError(
                RefusalReason.TRUNCATED_PDU,
                f"connection closed after {len(body)} of {length} bytes of a PDU",
            )
    finally:
        _blocking(sock)
    header += body
    return header


def _read_exactly(
    sock: socket.socket,
    count: int,
    deadline: float,
    deadline_reason: RefusalReason,
    clock: Callable[[], float],
) -> bytearray:
    """Read ``count`` bytes (fewer only if the peer closed), growing the buffer as they
    arrive; :class:`PduRefusedError` once ``deadline`` passes."""
    buffer = bytearray(min(count, FIRST_ALLOCATION_BYTES))
    read = 0
    while read < count:
        if read == len(buffer):
            buffer.extend(bytes(min(count, 2 * len(buffer)) - len(buffer)))
        remaining = deadline - clock()
        if remaining <= 0:
            raise PduRefusedError(deadline_reason, f"{read} of {count} bytes after the deadline")
        sock.settimeout(remaining)
        try:
            with memoryview(buffer) as view:
                received = sock.recv_into(view[read:], len(buffer) - read)
        except TimeoutError as exc:
            raise PduRefusedError(
                deadline_reason, f"{read} of {count} bytes after the deadline"
            ) from exc
        except OSError as exc:
            raise PduRefusedError(
                RefusalReason.TRUNCATED_PDU, f"connection failed after {read} of {count} bytes"
            ) from exc
        if not received:
            break
        read += received
    del buffer[read:]
    return buffer


def _blocking(sock: socket.socket) -> None:
    """Put ``sock`` back into blocking mode without a timeout (as pynetdicom uses it)."""
    with contextlib.suppress(OSError):  # already closed
        sock.settimeout(None)
