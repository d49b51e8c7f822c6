"""The fork's DIMSE provider: C-STORE requests decoded and responses encoded directly.

Part of the pynetdicom fork (:mod:`dicomnode.scp._fork`). pynetdicom turns every DIMSE
message into a pydicom data set and back, once per received instance (the cost is in
``docs/receive.md``). :class:`StoreDimse` does both directly for plain C-STORE messages
(PS3.7 Section 9.3.1 and Annex E: command sets in Implicit VR Little Endian, elements in
tag order, UIDs padded with a NUL to even length):

- incoming: it joins the fragments of every message itself; a C-STORE-RQ whose command
  set holds only C-STORE-RQ elements becomes a ``C_STORE`` primitive through the
  primitive's own setters (which validate as for pynetdicom) and is counted
  (:func:`direct_store_requests`); any other message is handed to pynetdicom whole, as
  one command and one data set fragment;
- outgoing: a C-STORE-RSP without Error Comment or Offending Element is written byte for
  byte as pynetdicom writes it.

With a handler on ``EVT_DIMSE_RECV`` or ``EVT_DIMSE_SENT`` (pynetdicom's standard log
handlers, bound at DEBUG) or pynetdicom's chunked receive configured, messages take
pynetdicom's own path. :class:`BoundedDimse` is pynetdicom's path alone (``scp.direct_store:
false``). On both, a data set that grows beyond the connection's ``max_data_set_bytes``
aborts the association.

Follows pynetdicom 3.0.4's ``DIMSEServiceProvider.receive_primitive`` and ``send_msg`` and
its C-STORE message classes; re-check them against the source when upgrading pynetdicom
(``tests/unit/scp/test_store_dimse.py`` compares the bytes with pynetdicom's own).
"""

from __future__ import annotations

import struct
import threading
from io import BytesIO
from typing import Protocol

from pynetdicom import _config as pynetdicom_config
from pynetdicom import evt
from pynetdicom.association import Association
from pynetdicom.dimse import DIMSEServiceProvider
from pynetdicom.dimse_primitives import C_STORE, DimsePrimitiveType
from pynetdicom.pdu_primitives import P_DATA

from dicomnode.scp.uids import encode_uid


class DataSetLimit(Protocol):
    """The connection's bound on one message's data set
    (:class:`dicomnode.scp._transport.GuardedSocket`)."""

    @property
    def max_data_set_bytes(self) -> int:
        """Largest data set accepted, in bytes."""
        ...

    def refuse_data_set(self, size_bytes: int) -> None:
        """Abort the association for a data set of more than ``size_bytes`` bytes."""
        ...


C_STORE_RQ_COMMAND_FIELD = 0x0001
"""Command Field (0000,0100) of a C-STORE-RQ."""

C_STORE_RSP_COMMAND_FIELD = 0x8001
"""Command Field (0000,0100) of a C-STORE-RSP."""

NO_DATA_SET = 0x0101
"""Command Data Set Type (0000,0800) of a message without a data set."""

LAST_COMMAND_FRAGMENT = b"\x03"
"""Message control header of a PDV holding a whole command set (command, last fragment)."""

LAST_DATA_SET_FRAGMENT = b"\x02"
"""Message control header of a PDV holding a whole data set (data set, last fragment)."""

# Bits of the message control header (PS3.8 Annex E.2).
_COMMAND = 0x01
_LAST = 0x02

_C_STORE_RQ_ELEMENTS = {
    0x0000: None,  # Command Group Length
    0x0002: "AffectedSOPClassUID",
    0x0100: None,  # Command Field
    0x0110: "MessageID",
    0x0700: "Priority",
    0x0800: None,  # Command Data Set Type
    0x1000: "AffectedSOPInstanceUID",
    0x1030: "MoveOriginatorApplicationEntityTitle",
    0x1031: "MoveOriginatorMessageID",
}
"""Elements of a C-STORE-RQ command set (PS3.7 Table 9.3-1) and the primitive parameter
each sets."""

_UNSIGNED_SHORT = {0x0100, 0x0110, 0x0700, 0x0800, 0x1031}
"""Elements of :data:`_C_STORE_RQ_ELEMENTS` with VR US."""

PDV_OVERHEAD = 6
"""Bytes of a P-DATA-TF PDU's maximum length taken by the PDV item header and control
header, as pynetdicom counts them when it fragments a message."""


def _element(element: int, value: bytes) -> bytes:
    """One command element of group 0000 in Implicit VR Little Endian."""
    return struct.pack("<HHI", 0x0000, element, len(value)) + value


def c_store_rsp_command(
    message_id_responded_to: int, sop_class_uid: str, sop_instance_uid: str, status: int
) -> bytes:
    """Encode the command set of a C-STORE-RSP without Error Comment or Offending Element.

    Parameters
    ----------
    message_id_responded_to : int
        Message ID Being Responded To (0000,0120): the request's Message ID.
    sop_class_uid, sop_instance_uid : str
        Affected SOP Class UID (0000,0002) and Affected SOP Instance UID (0000,1000).
    status : int
        Status (0000,0900), e.g. 0x0000.

    Returns
    -------
    bytes
        The command set, Command Group Length (0000,0000) first.
    """
    elements = b"".join(
        (
            _element(0x0002, encode_uid(sop_class_uid)),
            _element(0x0100, struct.pack("<H", C_STORE_RSP_COMMAND_FIELD)),
            _element(0x0120, struct.pack("<H", message_id_responded_to)),
            _element(0x0800, struct.pack("<H", NO_DATA_SET)),
            _element(0x0900, struct.pack("<H", status)),
            _element(0x1000, encode_uid(sop_instance_uid)),
        )
    )
    return _element(0x0000, struct.pack("<I", len(elements))) + elements


def command_elements(command_set: bytes) -> dict[int, bytes]:
    """Split a command set (Implicit VR Little Endian, group 0000) into element values.

    Parameters
    ----------
    command_set : bytes
        The encoded command set.

    Returns
    -------
    dict of int to bytes
        Value bytes by element number.

    Raises
    ------
    ValueError
        If an element is not of group 0000 or runs past the end.
    """
    elements: dict[int, bytes] = {}
    offset, end = 0, len(command_set)
    while offset < end:
        if end - offset < 8:
            raise ValueError("truncated command element")
        group, element, length = struct.unpack_from("<HHI", command_set, offset)
        offset += 8
        if group != 0x0000 or offset + length > end:
            raise ValueError("not a command element")
        elements[element] = command_set[offset : offset + length]
        offset += length
    return elements


def c_store_rq_primitive(
    elements: dict[int, bytes], data_set: bytes, context_id: int
) -> C_STORE | None:
    """A C-STORE-RQ primitive from its command elements (:func:`command_elements`) and data
    set, or None for any other message (or a command set with elements a C-STORE-RQ does
    not have).

    Raises
    ------
    ValueError, TypeError
        If a value is invalid (the primitive's setters validate as for pynetdicom).
    """
    if elements.get(0x0100) != struct.pack("<H", C_STORE_RQ_COMMAND_FIELD):
        return None
    if not elements.keys() <= _C_STORE_RQ_ELEMENTS.keys():
        return None
    primitive = C_STORE()
    for element, value in elements.items():
        parameter = _C_STORE_RQ_ELEMENTS[element]
        if parameter is None:
            continue
        if element in _UNSIGNED_SHORT:
            if len(value) != 2:
                return None
            setattr(primitive, parameter, struct.unpack("<H", value)[0])
        else:
            setattr(primitive, parameter, value.rstrip(b"\0 ").decode("ascii").strip())
    primitive.DataSet = BytesIO(data_set)
    primitive._context_id = context_id
    return primitive


class _IncomingMessage:
    """The fragments of one DIMSE message being received."""

    def __init__(self, context_id: int) -> None:
        self.context_id = context_id
        self.command: list[bytes] = []
        self.data_set: list[bytes] = []
        self.elements: dict[int, bytes] | None = None  # once the command set is complete
        self.has_data_set = False
        self.data_set_bytes = 0

    def add(self, control: int, fragment: bytes) -> bool:
        """Add one PDV's fragment; whether the message is complete.

        Raises
        ------
        ValueError
            If the command set cannot be read or a command fragment follows a complete
            command set (the message is then handed to pynetdicom as it is).
        """
        if control & _COMMAND:
            if self.elements is not None:
                raise ValueError("command fragment after a complete command set")
            self.command.append(fragment)
            if control & _LAST:
                elements = command_elements(b"".join(self.command))
                data_set_type = elements.get(0x0800)
                if data_set_type is None:
                    raise ValueError("command set without Command Data Set Type")
                self.elements = elements
                self.has_data_set = data_set_type != struct.pack("<H", NO_DATA_SET)
                return not self.has_data_set
            return False
        self.data_set.append(fragment)
        self.data_set_bytes += len(fragment)
        return bool(control & _LAST)


class _RequestCounter:
    """A count shared by the threads of one process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._count = 0

    def increment(self) -> None:
        """Count one more."""
        with self._lock:
            self._count += 1

    @property
    def count(self) -> int:
        """The count so far."""
        return self._count


_DIRECT_STORE_REQUESTS = _RequestCounter()


def direct_store_requests() -> int:
    """C-STORE requests decoded by :class:`StoreDimse` itself in this process so far.

    Returns
    -------
    int
        The count since the process started (tests compare it before and after, to know
        which path a message took; nothing else reads it).
    """
    return _DIRECT_STORE_REQUESTS.count


class BoundedDimse(DIMSEServiceProvider):
    """pynetdicom's DIMSE provider, each message's data set bounded by the connection."""

    def __init__(self, assoc: Association) -> None:
        super().__init__(assoc)
        self.data_set_limit: DataSetLimit | None = None
        """The connection's bound on a data set (set once the connection is); None: none."""
        self._pynetdicom_data_set_bytes = 0  # of the message pynetdicom is assembling

    def receive_primitive(self, primitive: P_DATA) -> None:
        """Let pynetdicom assemble a message from a P-DATA primitive, aborting the
        association once the data set of the message grows beyond the limit."""
        self._pynetdicom_data_set_bytes += sum(
            len(pdv) - 1
            for _, pdv in primitive.presentation_data_value_list
            if not pdv[0] & _COMMAND
        )
        if self._over_limit(self._pynetdicom_data_set_bytes):
            self._pynetdicom_data_set_bytes = 0
            self.message = None
            return
        super().receive_primitive(primitive)
        if self.message is None:  # pynetdicom completed (queued) the message
            self._pynetdicom_data_set_bytes = 0

    def _over_limit(self, data_set_bytes: int) -> bool:
        """Whether a data set of ``data_set_bytes`` so far exceeds the connection's limit;
        if so, the association is aborted (and the refusal recorded)."""
        limit = self.data_set_limit
        if limit is None or data_set_bytes <= limit.max_data_set_bytes:
            return False
        limit.refuse_data_set(data_set_bytes)
        return True


class StoreDimse(BoundedDimse):
    """pynetdicom's DIMSE provider with the direct C-STORE paths of this module."""

    def __init__(self, assoc: Association) -> None:
        super().__init__(assoc)
        self._incoming: _IncomingMessage | None = None

    def receive_primitive(self, primitive: P_DATA) -> None:
        """Process a received P-DATA primitive (see the module documentation)."""
        if self.message is not None or (self._incoming is None and self._pynetdicom_receives()):
            super().receive_primitive(primitive)
            return
        for context_id, pdv in primitive.presentation_data_value_list:
            if self._incoming is None:
                self._incoming = _IncomingMessage(context_id)
            incoming = self._incoming
            try:
                complete = incoming.add(pdv[0], pdv[1:])
            except (ValueError, struct.error):
                self._incoming = None  # not a readable message: pynetdicom fails on it
                self._hand_over(incoming)
                continue
            if self._over_limit(incoming.data_set_bytes):
                self._incoming = None
                return
            if complete:
                self._incoming = None
                self._deliver(incoming)

    def _pynetdicom_receives(self) -> bool:
        """Whether the next message takes pynetdicom's path."""
        return bool(
            pynetdicom_config.STORE_RECV_CHUNKED_DATASET
            or self.assoc.get_handlers(evt.EVT_DIMSE_RECV)
        )

    def _deliver(self, incoming: _IncomingMessage) -> None:
        """Queue a complete message: a C-STORE-RQ directly, anything else through pynetdicom."""
        data_set = b"".join(incoming.data_set)
        try:
            store = c_store_rq_primitive(incoming.elements or {}, data_set, incoming.context_id)
        except (ValueError, TypeError):
            store = None  # invalid values: pynetdicom logs and aborts as it does
        if store is not None:
            _DIRECT_STORE_REQUESTS.increment()
            self.msg_queue.put((incoming.context_id, store))
        else:
            self._hand_over(incoming, data_set)

    def _hand_over(self, incoming: _IncomingMessage, data_set: bytes = b"") -> None:
        """Let pynetdicom decode and queue a message, given as one command and one data set
        fragment (``data_set``: the joined data set fragments)."""
        whole = P_DATA()
        whole.presentation_data_value_list.append(
            (incoming.context_id, LAST_COMMAND_FRAGMENT + b"".join(incoming.command))
        )
        if incoming.has_data_set:
            whole.presentation_data_value_list.append(
                (incoming.context_id, LAST_DATA_SET_FRAGMENT + data_set)
            )
        super().receive_primitive(whole)

    def send_msg(self, primitive: DimsePrimitiveType, context_id: int) -> None:
        """Send a DIMSE message; a plain C-STORE response without pynetdicom's encoder."""
        command = self._plain_store_response(primitive)
        if command is None:
            super().send_msg(primitive, context_id)
            return
        pdata = P_DATA()
        pdata.presentation_data_value_list.append((context_id, LAST_COMMAND_FRAGMENT + command))
        self.dul.send_pdu(pdata)

    def _plain_store_response(self, primitive: DimsePrimitiveType) -> bytes | None:
        """The encoded command set if ``primitive`` can take the direct path, else None."""
        if not isinstance(primitive, C_STORE) or primitive.MessageIDBeingRespondedTo is None:
            return None
        if primitive.ErrorComment is not None or primitive.OffendingElement is not None:
            return None
        if self.assoc.get_handlers(evt.EVT_DIMSE_SENT):
            return None  # someone (pynetdicom's DEBUG logging) reads the message object
        sop_class, sop_instance = primitive.AffectedSOPClassUID, primitive.AffectedSOPInstanceUID
        if sop_class is None or sop_instance is None or primitive.Status is None:
            return None
        command = c_store_rsp_command(
            primitive.MessageIDBeingRespondedTo, sop_class, sop_instance, primitive.Status
        )
        limit = self.maximum_pdu_size
        if limit and len(command) > limit - PDV_OVERHEAD:
            return None  # needs fragments: pynetdicom splits it
        return command
