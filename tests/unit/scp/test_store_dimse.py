"""C-STORE requests decoded and responses encoded directly equal pynetdicom's, and every
other message still takes pynetdicom's path."""

from __future__ import annotations

import struct
from io import BytesIO
from typing import Any, cast

import pytest
from pydicom.uid import CTImageStorage, SecondaryCaptureImageStorage
from pynetdicom import AE, evt
from pynetdicom._globals import MODE_ACCEPTOR
from pynetdicom.association import Association
from pynetdicom.dimse import DIMSEServiceProvider
from pynetdicom.dimse_messages import C_ECHO_RQ, C_STORE_RQ, C_STORE_RSP
from pynetdicom.dimse_primitives import C_ECHO, C_STORE
from pynetdicom.pdu_primitives import P_DATA

from dicomnode.scp._store_dimse import (
    BoundedDimse,
    StoreDimse,
    c_store_rsp_command,
    command_elements,
    direct_store_requests,
)


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
        pdata.presentation_data_value_list for pdata in message.encode_msg(context_id, maximum_pdu)
    ]


class _Dul:
    def __init__(self) -> None:
        self.sent: list[Any] = []

    def send_pdu(self, primitive: Any) -> None:
        self.sent.append(primitive.presentation_data_value_list)


def _provider(
    maximum_pdu: int = 0, provider_class: type[BoundedDimse] = StoreDimse
) -> tuple[BoundedDimse, _Dul]:
    assoc = Association(AE(), MODE_ACCEPTOR)
    assoc.acceptor.maximum_length = maximum_pdu
    assoc.requestor.maximum_length = maximum_pdu
    dul = _Dul()
    assoc.dul = dul  # type: ignore[assignment]
    provider = provider_class(assoc)
    for event in (evt.EVT_DIMSE_SENT, evt.EVT_DIMSE_RECV):  # pynetdicom's logging
        for handler, _ in cast(list[tuple[Any, Any]], assoc.get_handlers(event)):
            assoc.unbind(event, handler)
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


def _request(message_id: int, sop_instance: str, **extra: Any) -> C_STORE:
    primitive = C_STORE()
    primitive.MessageID = message_id
    primitive.AffectedSOPClassUID = CTImageStorage
    primitive.AffectedSOPInstanceUID = sop_instance
    primitive.Priority = extra.pop("priority", 2)
    for name, value in extra.items():
        setattr(primitive, name, value)
    return primitive


def _wire(primitive: Any, data_set: bytes | None, maximum_pdu: int, context_id: int) -> list[Any]:
    """The P-DATA primitives a requestor sends for ``primitive``."""
    message = (C_STORE_RQ if isinstance(primitive, C_STORE) else C_ECHO_RQ)()
    if data_set is not None:
        primitive.DataSet = BytesIO(data_set)
    message.primitive_to_message(primitive)
    return list(message.encode_msg(context_id, maximum_pdu))


def _received(provider: Any, wire: list[Any]) -> list[tuple[Any, dict[str, Any]]]:
    for pdata in wire:
        provider.receive_primitive(pdata)
    out = []
    while not provider.msg_queue.empty():
        context_id, primitive = provider.msg_queue.get()
        fields = {
            name: getattr(primitive, name, None)
            for name in (
                "MessageID",
                "AffectedSOPClassUID",
                "AffectedSOPInstanceUID",
                "Priority",
                "MoveOriginatorApplicationEntityTitle",
                "MoveOriginatorMessageID",
            )
        }
        data = getattr(primitive, "DataSet", None)
        fields["data"] = data.getvalue() if data is not None else None
        fields["type"] = type(primitive).__name__
        fields["context"] = primitive._context_id
        out.append((context_id, fields))
    return out


def _messages() -> list[tuple[Any, bytes | None]]:
    data_set = bytes(range(256)) * 700  # 179,200 bytes
    return [
        (_request(1, "1.2.3.4"), data_set),
        (_request(2, "1.2.3.45", priority=1), data_set[:1001]),
        (
            _request(
                3,
                "1." + "9" * 62,
                MoveOriginatorApplicationEntityTitle="ORTHANC",
                MoveOriginatorMessageID=77,
            ),
            data_set,
        ),
        (_echo_request(4), None),
    ]


def _echo_request(message_id: int) -> C_ECHO:
    echo = C_ECHO()
    echo.MessageID = message_id
    echo.AffectedSOPClassUID = "1.2.840.10008.1.1"
    return echo


@pytest.mark.parametrize("provider_class", [StoreDimse, BoundedDimse])
@pytest.mark.parametrize("maximum_pdu", [0, 16382, 116794, 1000])
def test_requests_arrive_as_pynetdicom_makes_them(
    maximum_pdu: int, provider_class: type[BoundedDimse]
) -> None:
    fast, _ = _provider(provider_class=provider_class)
    reference = DIMSEServiceProvider(fast.assoc)
    before = direct_store_requests()
    for primitive, data_set in _messages():
        wire = _wire(primitive, data_set, maximum_pdu, 7)
        expected = _received(reference, wire)
        assert len(expected) == 1
        assert _received(fast, wire) == expected
    # The three C-STORE requests, decoded directly by StoreDimse only.
    assert direct_store_requests() - before == (3 if provider_class is StoreDimse else 0)


def test_pdvs_of_two_messages_in_one_pdu_are_split() -> None:
    fast, _ = _provider()
    reference = DIMSEServiceProvider(fast.assoc)
    first = _wire(_request(1, "1.2.3.4"), b"abcd", 0, 1)
    second = _wire(_request(2, "1.2.3.5"), b"efgh", 0, 1)
    joined = P_DATA()
    for pdata in (*first, *second):
        joined.presentation_data_value_list.extend(pdata.presentation_data_value_list)
    got = _received(fast, [joined])
    assert [fields["AffectedSOPInstanceUID"] for _, fields in got] == ["1.2.3.4", "1.2.3.5"]
    assert got == _received(reference, [*first, *second])


def test_a_bound_dimse_recv_handler_gets_pynetdicoms_message() -> None:
    fast, _ = _provider()
    seen: list[Any] = []
    fast.assoc.bind(evt.EVT_DIMSE_RECV, lambda event: seen.append(event.message))
    before = direct_store_requests()
    got = _received(fast, _wire(_request(1, "1.2.3.4"), b"abcd", 0, 1))
    assert len(seen) == 1 and isinstance(seen[0], C_STORE_RQ)
    assert got[0][1]["data"] == b"abcd"
    assert direct_store_requests() == before


@pytest.mark.lenient_dicom
def test_a_request_with_a_non_ascii_uid_is_left_to_pynetdicom() -> None:
    fast, _ = _provider()
    reference = DIMSEServiceProvider(fast.assoc)
    wire = _wire(_request(1, "1.2.3.4"), b"abcd", 0, 1)
    broken = P_DATA()
    command = wire[0].presentation_data_value_list[0][1]
    broken.presentation_data_value_list.append((1, command.replace(b"1.2.3.4", b"1.2.3.\xff")))
    expected = _received(reference, [broken, *wire[1:]])
    assert expected[0][1]["AffectedSOPInstanceUID"] == "1.2.3.\xff"  # accepted, with a warning
    assert _received(fast, [broken, *wire[1:]]) == expected


def test_an_unreadable_command_set_fails_as_in_pynetdicom() -> None:
    fast, _ = _provider()
    reference = DIMSEServiceProvider(fast.assoc)
    broken = P_DATA()
    broken.presentation_data_value_list.append((1, b"\x03" + b"\x00\x00\x00\x00\xff"))
    with pytest.raises(AttributeError) as expected:
        reference.receive_primitive(broken)
    with pytest.raises(AttributeError) as got:  # the DUL reactor aborts the association
        fast.receive_primitive(broken)
    assert str(got.value) == str(expected.value)
    assert fast.msg_queue.empty()


def test_a_command_set_without_data_set_type_fails_as_in_pynetdicom() -> None:
    fast, _ = _provider()
    reference = DIMSEServiceProvider(fast.assoc)
    command = _wire(_request(1, "1.2.3.4"), b"abcd", 0, 1)[0].presentation_data_value_list[0][1]
    elements = command_elements(command[1:])
    del elements[0x0800]
    broken = P_DATA()
    broken.presentation_data_value_list.append(
        (
            1,
            b"\x03"
            + b"".join(struct.pack("<HHI", 0, tag, len(v)) + v for tag, v in elements.items()),
        )
    )
    with pytest.raises(AttributeError) as expected:
        reference.receive_primitive(broken)
    with pytest.raises(AttributeError) as got:
        fast.receive_primitive(broken)
    assert str(got.value) == str(expected.value)
