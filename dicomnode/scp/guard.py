"""What a receiving process enforces on every connection, and how it reports a refusal.

Before a peer is authenticated (its A-ASSOCIATE-RQ checked against the access policy) it
can only cost bounded memory, one connection slot of its address and a bounded time:

- connections per peer address across all receiving processes
  (:class:`~dicomnode.scp.slots.AddressSlots`): beyond the limit a connection is closed
  as soon as it is accepted;
- PDU sizes by type (:data:`MAXIMUM_ASSOCIATION_PDU_BYTES` for the association PDUs, the
  negotiated Maximum Length for P-DATA-TF) and a deadline for every PDU
  (:func:`dicomnode.scp.pdu.read_pdu`);
- association negotiation within the ACSE timeout from the moment of connection;
- after association, a data set of at most ``max_data_set_bytes`` per DIMSE message.

Each refusal is published as a :class:`~dicomnode.scp.events.ConnectionRefused` record
(the service records them rate-limited and counts them in ``/metrics``); the receiving
process itself logs nothing per refusal, so a flood of hostile connections cannot flood
the log.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from dicomnode.scp.events import ConnectionRefused, ReceiveSink
from dicomnode.scp.pdu import RefusalReason
from dicomnode.scp.slots import AddressSlots

LOGGER = logging.getLogger(__name__)

MAXIMUM_ASSOCIATION_PDU_BYTES = 1024 * 1024
"""Largest A-ASSOCIATE-RQ/AC/RJ body accepted, in bytes: 128 presentation contexts with
30 transfer syntaxes each take about 110 KiB, a user identity token a few more."""

MAXIMUM_SHORT_PDU_BYTES = 1024
"""Largest A-RELEASE-RQ/RP and A-ABORT body accepted, in bytes (PS3.8 defines 4)."""

_P_DATA_TF = 0x04


@dataclass(frozen=True)
class ConnectionGuard:
    """The limits of one receiving process and where its refusals go.

    Parameters
    ----------
    slots : AddressSlots
        Open connections per peer address (shared by the receiving processes).
    sink : ReceiveSink
        Where refusals are published.
    maximum_pdu_size : int
        The Maximum Length we negotiate: largest P-DATA-TF body accepted, in bytes.
    pdu_timeout_s : float
        Longest time for one whole PDU to arrive once it started, in seconds.
    association_timeout_s : float
        Longest time from connection to an established association, in seconds.
    max_data_set_bytes : int
        Largest data set of one DIMSE message, in bytes (held in memory until its last
        fragment); beyond it the association is aborted.
    """

    slots: AddressSlots
    sink: ReceiveSink
    maximum_pdu_size: int
    pdu_timeout_s: float
    association_timeout_s: float
    max_data_set_bytes: int

    def maximum_pdu_length(self, pdu_type: int) -> int:
        """Largest PDU-length accepted for ``pdu_type``, in bytes."""
        if pdu_type == _P_DATA_TF:
            return self.maximum_pdu_size
        if pdu_type <= 0x03:
            return MAXIMUM_ASSOCIATION_PDU_BYTES
        return MAXIMUM_SHORT_PDU_BYTES

    def refuse(self, address: str, port: int, reason: RefusalReason, detail: str) -> None:
        """Publish a refusal (never raises: a failing sink is logged once per call)."""
        try:
            self.sink.publish(ConnectionRefused(address, port, reason.value, detail, time.time()))
        except Exception:
            LOGGER.exception("could not publish a connection refusal")
