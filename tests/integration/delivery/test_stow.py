"""STOW-RS against Orthanc's DICOMweb plugin and a scripted HTTP server on loopback."""

from __future__ import annotations

import base64
import json
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from pydicom import Dataset, dcmread

from dicomnode.delivery.base import DeliveryStatus
from dicomnode.delivery.config import StowDestinationConfig
from dicomnode.delivery.stow import StowRsSender

pytestmark = pytest.mark.peers


def uid(path: Path) -> str:
    return str(dcmread(path, stop_before_pixels=True).SOPInstanceUID)


def stow(url: str, **kwargs: object) -> StowRsSender:
    return StowRsSender(StowDestinationConfig(name="web", url=url, timeout_s=10, **kwargs))  # type: ignore[arg-type]


def test_batch_reaches_orthanc_dicomweb(orthanc, ct_files):
    if not orthanc.dicomweb:
        pytest.fail("Debian package orthanc-dicomweb is not installed")

    outcomes = stow(f"{orthanc.url}/dicom-web").send(ct_files)

    assert [o.status for o in outcomes] == [DeliveryStatus.SUCCESS] * len(ct_files)
    assert [o.dimse_status for o in outcomes] == [200] * len(ct_files)
    for path, outcome in zip(ct_files, outcomes, strict=True):
        assert outcome.sop_instance_uid == uid(path)
        assert [f["Type"] for f in orthanc.lookup(outcome.sop_instance_uid)] == ["Instance"]


def test_wrong_dicomweb_root_is_permanent(orthanc, ct_files):
    outcomes = stow(f"{orthanc.url}/no-such-root").send(ct_files[:1])

    assert outcomes[0].status is DeliveryStatus.PERMANENT
    assert outcomes[0].dimse_status == 404


def test_server_down_is_transient(ct_files):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]

    outcomes = stow(f"http://127.0.0.1:{port}/dicom-web").send(ct_files[:2])

    assert [o.status for o in outcomes] == [DeliveryStatus.TRANSIENT] * 2


@dataclass
class ScriptedHttp:
    """Answers every POST with ``status`` and ``body``; keeps what it received."""

    port: int
    status: int = 200
    body: dict[str, object] | None = None
    requests: list[tuple[str, dict[str, str], bytes]] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/dicom-web"


@pytest.fixture
def scripted_http() -> Iterator[ScriptedHttp]:
    server_box: list[ScriptedHttp] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            script = server_box[0]
            length = int(self.headers["Content-Length"])
            script.requests.append((self.path, dict(self.headers), self.rfile.read(length)))
            payload = json.dumps(script.body).encode() if script.body is not None else b""
            self.send_response(script.status)
            self.send_header("Content-Type", "application/dicom+json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server_box.append(ScriptedHttp(port=server.server_address[1]))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server_box[0]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def response_body(failed: dict[str, int], stored: dict[str, int | None]) -> dict[str, object]:
    ds = Dataset()
    ds.FailedSOPSequence = []
    for sop_uid, reason in failed.items():
        item = Dataset()
        item.ReferencedSOPInstanceUID, item.FailureReason = sop_uid, reason
        ds.FailedSOPSequence.append(item)
    ds.ReferencedSOPSequence = []
    for sop_uid, warning in stored.items():
        item = Dataset()
        item.ReferencedSOPInstanceUID = sop_uid
        if warning is not None:
            item.WarningReason = warning
        ds.ReferencedSOPSequence.append(item)
    return ds.to_json_dict()


def test_request_is_multipart_related_with_files_as_stored(scripted_http, ct_files):
    outcomes = stow(scripted_http.url, username="node", password="s3cret").send(ct_files[:2])

    assert [o.status for o in outcomes] == [DeliveryStatus.SUCCESS] * 2
    path, headers, body = scripted_http.requests[0]
    assert path == "/dicom-web/studies"
    assert headers["Accept"] == "application/dicom+json"
    assert headers["Authorization"] == "Basic " + base64.b64encode(b"node:s3cret").decode()
    message = BytesParser(policy=HTTP).parsebytes(
        f"Content-Type: {headers['Content-Type']}\r\n\r\n".encode() + body
    )
    assert message.get_content_type() == "multipart/related"
    assert message.get_param("type") == "application/dicom"
    parts = list(message.iter_parts())
    assert [p.get_content_type() for p in parts] == ["application/dicom"] * 2
    assert [p.get_payload(decode=True) for p in parts] == [p.read_bytes() for p in ct_files[:2]]


def test_bearer_token_is_sent(scripted_http, ct_files):
    stow(scripted_http.url, bearer_token="tok-123").send(ct_files[:1])

    assert scripted_http.requests[0][1]["Authorization"] == "Bearer tok-123"


def test_202_partial_failure_is_read_per_instance(scripted_http, ct_files):
    a, b, c, d = (uid(p) for p in ct_files[:4])
    scripted_http.status = 202
    scripted_http.body = response_body({b: 0xA700, c: 0xC000}, {a: None, d: 0xB000})

    outcomes = stow(scripted_http.url).send(ct_files[:4])

    assert [o.status for o in outcomes] == [
        DeliveryStatus.WARNING,
        DeliveryStatus.TRANSIENT,
        DeliveryStatus.PERMANENT,
        DeliveryStatus.WARNING,
    ]
    assert "0xA700" in outcomes[1].detail and "0xC000" in outcomes[2].detail


def test_200_with_failed_instance(scripted_http, ct_files):
    a, b = (uid(p) for p in ct_files[:2])
    scripted_http.body = response_body({b: 0xA900}, {a: None})

    outcomes = stow(scripted_http.url).send(ct_files[:2])

    assert [o.status for o in outcomes] == [DeliveryStatus.SUCCESS, DeliveryStatus.PERMANENT]


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (409, DeliveryStatus.PERMANENT),
        (400, DeliveryStatus.PERMANENT),
        (401, DeliveryStatus.PERMANENT),
        (503, DeliveryStatus.TRANSIENT),
        (500, DeliveryStatus.TRANSIENT),
        (429, DeliveryStatus.TRANSIENT),
    ],
)
def test_http_error_without_body(scripted_http, ct_files, status, expected):
    scripted_http.status = status

    outcomes = stow(scripted_http.url).send(ct_files[:2])

    assert [o.status for o in outcomes] == [expected] * 2
    assert [o.dimse_status for o in outcomes] == [status] * 2
