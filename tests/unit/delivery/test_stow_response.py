"""Reading a STOW-RS Store Instances Response (PS3.18 10.5.3) into per-instance outcomes."""

from __future__ import annotations

import json
from pathlib import Path

from pydicom import Dataset

from dicomnode.delivery.base import DeliveryStatus
from dicomnode.delivery.stow import _Part, outcomes_from_response, parse_store_response

PARTS = [_Part(Path("a.dcm"), "1.2.1"), _Part(Path("b.dcm"), "1.2.2")]


def body(failed_without_reason: str | None = None) -> bytes:
    ds = Dataset()
    ds.ReferencedSOPSequence = [Dataset()]
    ds.ReferencedSOPSequence[0].ReferencedSOPInstanceUID = "1.2.1"
    if failed_without_reason:
        ds.FailedSOPSequence = [Dataset()]
        ds.FailedSOPSequence[0].ReferencedSOPInstanceUID = failed_without_reason
    return json.dumps(ds.to_json_dict()).encode()


def test_body_parsing():
    parsed = parse_store_response("application/dicom+json; charset=utf-8", body())
    assert parsed is not None
    assert parsed.ReferencedSOPSequence[0].ReferencedSOPInstanceUID == "1.2.1"
    assert parse_store_response("application/dicom+xml", b"<NativeDicomModel/>") is None
    assert parse_store_response("application/dicom+json", b"") is None
    assert parse_store_response("application/json", b"{not json") is None


def test_instances_not_mentioned_take_the_http_class():
    outcomes = outcomes_from_response(PARTS, 202, parse_store_response("application/json", body()))
    assert [o.status for o in outcomes] == [DeliveryStatus.WARNING, DeliveryStatus.WARNING]
    outcomes = outcomes_from_response(PARTS, 200, None)
    assert [o.status for o in outcomes] == [DeliveryStatus.SUCCESS] * 2
    assert [o.sop_instance_uid for o in outcomes] == ["1.2.1", "1.2.2"]


def test_failed_without_reason_follows_http_transience():
    response = parse_store_response("application/json", body(failed_without_reason="1.2.2"))
    outcomes = outcomes_from_response(PARTS, 503, response)
    assert [o.status for o in outcomes] == [DeliveryStatus.SUCCESS, DeliveryStatus.TRANSIENT]
    outcomes = outcomes_from_response(PARTS, 409, response)
    assert outcomes[1].status is DeliveryStatus.PERMANENT
