"""C-STORE responses encoded directly are byte for byte pynetdicom's, and everything else
still takes pynetdicom's path."""

from __future__ import annotations

from typing import Any, cast

import pytest
from pydicom.uid import CTImageStorage, SecondaryCaptureImageStorage
from pynetdicom import AE, evt
from pynetdicom._globals import MODE_ACCEPTOR
from pynetdicom.association import Association
from pynetdicom.dimse_messages import C_STORE_RSP
from pynetdicom.dimse_primitives import C_ECHO, C_STORE

from dicomnode.scp.dimse import StoreResponseDimse, c_store_rsp_command


def _response(message_id: int, sop_class: str, sop_instance: str, status: int) -> C_STORE:
    primitive = C_STORE()
    primitive.MessageIDBeingRespondedTo = message_id
    primitive.AffectedSOPClassUID = sop_class
    primitive.AffectedSOPInstanceUID = sop_instance
    primitive.Status = status
    return primitive


def _pynetdicom_pdvs(primitive: Any, context_id: int, maximum_pdu: int) -> list[Any]:
    message = C_STORE_RSP()
    message.primitive_to_message(primitive)
    return [
        pdata.presentation_data_value_list
        for pdata in message.encode_msg(context_id, maximum_pdu)
    ]


class _Dul:
    def __init__(self) -> None:
        self.sent: list[Any] = []

    def send_pdu(self, primitive: Any) -> None:
        self.sent.append(primitive.presentation_data_value_list)


def _provider(maximum_pdu: int = 0) -> tuple[StoreResponseDimse, _Dul]:
    assoc = Association(AE(), MODE_ACCEPTOR)
    assoc.acceptor.maximum_length = maximum_pdu
    assoc.requestor.maximum_length = maximum_pdu
    dul = _Dul()
    assoc.dul = dul  # type: ignore[assignment]
    provider = StoreResponseDimse(assoc)
    bound = cast(list[tuple[Any, Any]], assoc.get_handlers(evt.EVT_DIMSE_SENT))
    for handler, _ in bound:  # pynetdicom's logging
        assoc.unbind(evt.EVT_DIMSE_SENT, handler)
    return provider, dul


@pytest.mark.parametrize(
    ("message_id", "sop_class", "sop_instance", "status"),
    [
        (1, CTImageStorage, "1.2.3.4", 0x0000),
        (65535, CTImageStorage, "1.2.3.45", 0xA700),
        (7, SecondaryCaptureImageStorage, "1." + "2" * 62, 0xC210),
        (300, CTImageStorage, "1." + "2" * 61, 0xB000),
    ],
)
def test_command_set_is_byte_for_byte_pynetdicoms(
    message_id: int, sop_class: str, sop_instance: str, status: int
) -> None:
    primitive = _response(message_id, sop_class, sop_instance, status)
    command = c_store_rsp_command(message_id, sop_class, sop_instance, status)
    assert _pynetdicom_pdvs(primitive, 3, 0) == [[(3, b"\x03" + command)]]


@pytest.mark.parametrize("maximum_pdu", [0, 16382, 200])
def test_provider_sends_what_pynetdicom_sends(maximum_pdu: int) -> None:
    provider, dul = _provider(maximum_pdu)
    primitive = _response(9, CTImageStorage, "1.2.840.99.1", 0x0000)
    provider.send_msg(primitive, 5)
    assert dul.sent == _pynetdicom_pdvs(primitive, 5, maximum_pdu)


def test_a_command_set_larger_than_the_pdu_is_fragmented_by_pynetdicom() -> None:
    provider, dul = _provider(100)
    primitive = _response(9, CTImageStorage, "1." + "3" * 62, 0x0000)
    provider.send_msg(primitive, 1)
    assert len(dul.sent) > 1
    assert dul.sent == _pynetdicom_pdvs(primitive, 1, 100)


def test_error_comment_and_other_messages_take_pynetdicoms_path() -> None:
    provider, dul = _provider()
    failure = _response(2, CTImageStorage, "1.2.3", 0xC210)
    failure.ErrorComment = "cannot parse"  # type: ignore[assignment]  # typed None there
    provider.send_msg(failure, 1)
    assert b"cannot parse" in dul.sent[-1][0][1]
    assert dul.sent[-1] == _pynetdicom_pdvs(failure, 1, 0)[0]
    echo = C_ECHO()
    echo.MessageIDBeingRespondedTo = 4
    echo.AffectedSOPClassUID = "1.2.840.10008.1.1"
    echo.Status = 0x0000
    provider.send_msg(echo, 1)
    assert len(dul.sent) == 2 and dul.sent[-1][0][1].startswith(b"\x03")


def test_a_bound_dimse_sent_handler_still_gets_the_message() -> None:
    provider, dul = _provider()
    seen: list[Any] = []
    provider.assoc.bind(evt.EVT_DIMSE_SENT, lambda event: seen.append(event.message))
    primitive = _response(3, CTImageStorage, "1.2.3.4", 0x0000)
    provider.send_msg(primitive, 1)
    assert len(seen) == 1 and isinstance(seen[0], C_STORE_RSP)
    assert dul.sent == _pynetdicom_pdvs(primitive, 1, 0)
