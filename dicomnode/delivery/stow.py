"""STOW-RS sender: results POSTed to a DICOMweb origin server (PS3.18 10.5).

The files go as stored, one ``multipart/related; type="application/dicom"`` request per
batch (built in memory: result batches are a SEG, an SR and a PDF, not whole studies). The
response's Store Instances Response Module (PS3.18 10.5.3.1: ReferencedSOPSequence,
FailedSOPSequence) says what happened to each instance; where the server gives no body, the
HTTP status speaks for all of them.

``requests`` rather than ``dicomweb-client``: the latter decodes and re-encodes every data
set before sending (``pydicom.dcmwrite``) and raises on 4xx/5xx, where we want the bytes as
stored and an outcome per instance.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import requests
from pydicom import Dataset, dcmread
from pydicom.errors import InvalidDicomError

from dicomnode.delivery.base import DeliveryStatus, InstanceOutcome
from dicomnode.delivery.classify import classify_dimse_status, classify_http_status
from dicomnode.delivery.config import StowDestinationConfig

LOGGER = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Part:
    path: Path
    sop_instance_uid: str


def _read_part(path: Path) -> _Part | InstanceOutcome:
    try:
        header = dcmread(path, stop_before_pixels=True)
        return _Part(path, str(header.SOPInstanceUID))
    except (OSError, InvalidDicomError, AttributeError) as exc:
        return InstanceOutcome(
            path, "", DeliveryStatus.PERMANENT, None, f"cannot read DICOM file: {exc}"
        )


def _outcome(part: _Part, status: DeliveryStatus, detail: str) -> InstanceOutcome:
    return InstanceOutcome(part.path, part.sop_instance_uid, status, None, detail)


def multipart_related(paths: Sequence[Path], boundary: str) -> bytes:
    """Encode files as a ``multipart/related`` body (RFC 2387) of application/dicom parts.

    Parameters
    ----------
    paths : sequence of Path
        DICOM Part 10 files, copied byte for byte.
    boundary : str
        The multipart boundary; must not occur in any file.

    Returns
    -------
    bytes
        The request body.
    """
    delimiter = f"--{boundary}".encode("ascii")
    chunks: list[bytes] = []
    for path in paths:
        chunks += [delimiter, b"\r\nContent-Type: application/dicom\r\n\r\n", path.read_bytes()]
        chunks.append(b"\r\n")
    chunks += [delimiter, b"--\r\n"]
    return b"".join(chunks)


def parse_store_response(content_type: str, body: bytes) -> Dataset | None:
    """Read a Store Instances Response Module from a DICOM JSON body.

    Returns
    -------
    pydicom.Dataset or None
        ``None`` for an empty, non-JSON or unreadable body (XML responses are not read:
        we ask for ``application/dicom+json``).
    """
    if not body or "json" not in content_type.lower():
        return None
    try:
        document = json.loads(body)
        if isinstance(document, list) and len(document) == 1:
            document = document[0]
        return Dataset.from_json(document)
    except (ValueError, TypeError, KeyError) as exc:
        LOGGER.warning("unreadable STOW-RS response body: %s", exc)
        return None


def outcomes_from_response(
    parts: Sequence[_Part], status_code: int, response: Dataset | None
) -> list[InstanceOutcome]:
    """Classify each instance of a STOW-RS request from the HTTP status and response body.

    An instance in FailedSOPSequence is classified by its FailureReason (a DIMSE status:
    0xA7xx transient, 0xA9xx/0xCxxx permanent); one in ReferencedSOPSequence is stored
    (``WARNING`` if it carries a WarningReason or the request got 202); one mentioned in
    neither takes the class of the HTTP status.
    """
    failed: dict[str, int | None] = {}
    referenced: dict[str, int | None] = {}
    if response is not None:
        for item in response.get("FailedSOPSequence", []):
            failed[str(item.get("ReferencedSOPInstanceUID", ""))] = item.get("FailureReason")
        for item in response.get("ReferencedSOPSequence", []):
            referenced[str(item.get("ReferencedSOPInstanceUID", ""))] = item.get("WarningReason")
    http_class = classify_http_status(status_code)
    outcomes = []
    for part in parts:
        uid = part.sop_instance_uid
        if uid in failed:
            reason = failed[uid]
            if reason is None:
                status = (
                    DeliveryStatus.TRANSIENT
                    if http_class is DeliveryStatus.TRANSIENT
                    else DeliveryStatus.PERMANENT
                )
                detail = f"HTTP {status_code}: listed as failed, no FailureReason"
            else:
                status = classify_dimse_status(int(reason))
                detail = f"HTTP {status_code}: FailureReason 0x{int(reason):04X}"
        elif uid in referenced:
            warning = referenced[uid]
            status = (
                DeliveryStatus.WARNING
                if warning is not None or status_code == 202
                else DeliveryStatus.SUCCESS
            )
            detail = f"HTTP {status_code}: stored" + (
                f", WarningReason 0x{int(warning):04X}" if warning is not None else ""
            )
        else:
            status = http_class
            detail = f"HTTP {status_code}"
        outcomes.append(InstanceOutcome(part.path, uid, status, status_code, detail))
    return outcomes


class StowRsSender:
    """Sends batches of DICOM files to a DICOMweb server with STOW-RS.

    Parameters
    ----------
    config : StowDestinationConfig
        Service root URL, credentials, timeout and HTTPS options.
    """

    def __init__(self, config: StowDestinationConfig) -> None:
        self.config = config
        self.name = config.name

    @property
    def studies_url(self) -> str:
        """The STOW-RS endpoint: ``{url}/studies``."""
        return self.config.url.rstrip("/") + "/studies"

    def _headers(self, boundary: str) -> dict[str, str]:
        headers = {
            "Accept": "application/dicom+json",
            "Content-Type": f'multipart/related; type="application/dicom"; boundary={boundary}',
        }
        if self.config.bearer_token is not None:
            token = self.config.bearer_token.get_secret_value()
            headers["Authorization"] = f"Bearer {token}"
        return headers

    def _client_certificate(self) -> str | tuple[str, str] | None:
        tls = self.config.tls
        if tls.cert_file is None:
            return None
        if tls.key_file is None:
            return str(tls.cert_file)
        return (str(tls.cert_file), str(tls.key_file))

    def send(self, paths: Sequence[Path]) -> list[InstanceOutcome]:
        """POST a batch in one request; one outcome per path, in order.

        Returns
        -------
        list of InstanceOutcome
            ``dimse_status`` holds the HTTP status code. Connection errors and timeouts
            are ``TRANSIENT``; unreadable files ``PERMANENT``.
        """
        results: list[InstanceOutcome | _Part] = [_read_part(Path(p)) for p in paths]
        parts = [r for r in results if isinstance(r, _Part)]
        if parts:
            by_path = dict(zip((p.path for p in parts), self._post(parts), strict=True))
            results = [by_path[r.path] if isinstance(r, _Part) else r for r in results]
        return [r for r in results if isinstance(r, InstanceOutcome)]

    def _post(self, parts: Sequence[_Part]) -> list[InstanceOutcome]:
        c = self.config
        boundary = uuid.uuid4().hex
        try:
            body = multipart_related([p.path for p in parts], boundary)
        except OSError as exc:
            detail = f"cannot read file: {exc}"
            return [_outcome(p, DeliveryStatus.PERMANENT, detail) for p in parts]
        auth = None
        if c.username is not None and c.password is not None:
            auth = (c.username, c.password.get_secret_value())
        try:
            reply = requests.post(
                self.studies_url,
                data=body,
                headers=self._headers(boundary),
                auth=auth,
                verify=str(c.tls.ca_file) if c.tls.ca_file is not None else True,
                cert=self._client_certificate(),
                timeout=c.timeout_s,
                allow_redirects=False,
            )
        except requests.RequestException as exc:
            detail = f"STOW-RS to {self.studies_url} failed: {type(exc).__name__}: {exc}"
            return [_outcome(p, DeliveryStatus.TRANSIENT, detail) for p in parts]
        response = parse_store_response(reply.headers.get("Content-Type", ""), reply.content)
        return outcomes_from_response(parts, reply.status_code, response)
