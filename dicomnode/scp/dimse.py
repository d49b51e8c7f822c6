"""The C-STORE response encoded directly (receive throughput).

pynetdicom encodes every DIMSE message by building a pydicom data set from the primitive
and writing it, ~0.3 ms of CPU for the seven elements of a C-STORE-RSP, paid once per
received instance. :class:`StoreResponseDimse` writes the command set of a plain C-STORE
response (no Error Comment, no Offending Element) directly, byte for byte what pynetdicom
writes (PS3.7 Section 9.3.1.2 and Annex E: Implicit VR Little Endian, elements in tag
order, UIDs padded with a NUL to even length); every other message, and any response
when a handler watches ``EVT_DIMSE_SENT`` (DEBUG logging), takes pynetdicom's own path.
"""

from __future__ import annotations

import struct

from pynetdicom import evt
from pynetdicom.dimse import DIMSEServiceProvider
from pynetdicom.dimse_primitives import C_STORE, DimsePrimitiveType
from pynetdicom.pdu_primitives import P_DATA

C_STORE_RSP_COMMAND_FIELD = 0x8001
"""Command Field (0000,0100) of a C-STORE-RSP."""

NO_DATA_SET = 0x0101
"""Command Data Set Type (0000,0800) of a message without a data set."""

LAST_COMMAND_FRAGMENT = b"\x03"
"""Message control header of a PDV holding a whole command set (command, last fragment)."""

PDV_OVERHEAD = 6
"""Bytes of a P-DATA-TF PDU's maximum length taken by the PDV item header and control
header, as pynetdicom counts them when it fragments a message."""


def _element(element: int, value: bytes) -> bytes:
    """One command element of group 0000 in Implicit VR Little Endian."""
    return struct.pack("<HHI", 0x0000, element, len(value)) + value


def _uid(value: str) -> bytes:
    """A UI value, padded with a NUL to even length."""
    raw = value.encode("ascii")
    return raw + b"\0" * (len(raw) % 2)


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
            _element(0x0002, _uid(sop_class_uid)),
            _element(0x0100, struct.pack("<H", C_STORE_RSP_COMMAND_FIELD)),
            _element(0x0120, struct.pack("<H", message_id_responded_to)),
            _element(0x0800, struct.pack("<H", NO_DATA_SET)),
            _element(0x0900, struct.pack("<H", status)),
            _element(0x1000, _uid(sop_instance_uid)),
        )
    )
    return _element(0x0000, struct.pack("<I", len(elements))) + elements


class StoreResponseDimse(DIMSEServiceProvider):
    """pynetdicom's DIMSE provider, sending plain C-STORE responses through
    :func:`c_store_rsp_command`."""

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
