"""C-STORE SCU and C-ECHO SCU towards a DICOM peer (pynetdicom).

One batch travels on one association (more only if it needs over 128 presentation
contexts). The presentation contexts are built from the files themselves: each file is sent
in the transfer syntax it is stored in; uncompressed files may also go as Explicit or
Implicit VR Little Endian, whichever the peer accepts. Every C-STORE response is read and
classified (:mod:`dicomnode.delivery.classify`); network and peer trouble never raises, it
becomes a ``TRANSIENT`` or ``PERMANENT`` outcome.
"""

from __future__ import annotations

import logging
import socket
import ssl
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from pydicom import Dataset, dcmread
from pydicom.errors import InvalidDicomError
from pydicom.uid import (
    UID,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
)
from pynetdicom import AE, build_context, evt
from pynetdicom.association import Association
from pynetdicom.presentation import PresentationContext
from pynetdicom.sop_class import Verification  # type: ignore[attr-defined]

from dicomnode.delivery.base import DeliveryStatus, InstanceOutcome
from dicomnode.delivery.classify import (
    classify_association_rejection,
    classify_dimse_status,
)
from dicomnode.delivery.config import DimseDestinationConfig, TlsConfig
from dicomnode.delivery.requestor import keep_responses_for_caller

LOGGER = logging.getLogger(__name__)

MAX_PRESENTATION_CONTEXTS = 128
"""PS3.8 9.3.2.2: presentation context IDs are odd numbers 1-255, so at most 128."""

_NATIVE_FALLBACK = (ExplicitVRLittleEndian, ImplicitVRLittleEndian)

OutcomeCallback = Callable[[InstanceOutcome], None]
"""Called once per instance as soon as its outcome is known (e.g. for a progress bar)."""


@dataclass(frozen=True)
class _Instance:
    """What the association needs to know about one file before sending it."""

    index: int
    path: Path
    sop_class_uid: UID
    sop_instance_uid: str
    transfer_syntax_uid: UID

    @property
    def context_key(self) -> tuple[str, str]:
        """Instances with the same key share one presentation context."""
        if self.transfer_syntax_uid.is_compressed:
            return (self.sop_class_uid, self.transfer_syntax_uid)
        return (self.sop_class_uid, "native")


@dataclass(frozen=True)
class EchoResult:
    """The outcome of one C-ECHO (verification).

    Parameters
    ----------
    status : DeliveryStatus
        ``SUCCESS`` when the peer answered 0x0000.
    dimse_status : int or None
        The C-ECHO response status, where the peer answered.
    detail : str
        Human-readable explanation.
    round_trip_ms : float
        Association, echo and release together, in milliseconds.
    """

    status: DeliveryStatus
    dimse_status: int | None
    detail: str
    round_trip_ms: float


def enable_tcp_nodelay(event: evt.Event) -> None:
    """``EVT_CONN_OPEN`` handler: turn Nagle's algorithm off on the association's socket.

    pynetdicom writes a C-STORE request as several small PDUs; with Nagle on, each one
    waits for the peer's delayed ACK (about 40 ms on Linux).
    """
    sock = event.assoc.dul.socket.socket if event.assoc.dul.socket else None
    if sock is not None:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def ssl_client_context(tls: TlsConfig) -> ssl.SSLContext:
    """Build the client-side TLS context described by ``tls``.

    Parameters
    ----------
    tls : TlsConfig
        Trust anchors, client certificate and host-name checking.

    Returns
    -------
    ssl.SSLContext
        Verifies the peer certificate (always) and its host name (if configured).
    """
    context = ssl.create_default_context(
        ssl.Purpose.SERVER_AUTH, cafile=str(tls.ca_file) if tls.ca_file else None
    )
    context.check_hostname = tls.check_hostname
    if tls.cert_file is not None:
        context.load_cert_chain(str(tls.cert_file), str(tls.key_file) if tls.key_file else None)
    return context


def _outcome(
    instance: _Instance, status: DeliveryStatus, dimse_status: int | None, detail: str
) -> InstanceOutcome:
    return InstanceOutcome(
        path=instance.path,
        sop_instance_uid=instance.sop_instance_uid,
        status=status,
        dimse_status=dimse_status,
        detail=detail,
    )


def _read_header(index: int, path: Path) -> _Instance | InstanceOutcome:
    """Read the UIDs that the association needs; a file that cannot be read is PERMANENT."""
    try:
        header = dcmread(path, stop_before_pixels=True)
        return _Instance(
            index=index,
            path=path,
            sop_class_uid=UID(header.SOPClassUID),
            sop_instance_uid=str(header.SOPInstanceUID),
            transfer_syntax_uid=UID(header.file_meta.TransferSyntaxUID),
        )
    except (OSError, InvalidDicomError, AttributeError) as exc:
        return InstanceOutcome(
            path=path,
            sop_instance_uid="",
            status=DeliveryStatus.PERMANENT,
            dimse_status=None,
            detail=f"cannot read DICOM file: {type(exc).__name__}: {exc}",
        )


def _presentation_contexts(instances: Sequence[_Instance]) -> list[PresentationContext]:
    """One context per SOP class and stored compressed transfer syntax, one per SOP class
    for all its uncompressed files (their own syntaxes, then Explicit/Implicit VR LE)."""
    syntaxes: dict[tuple[str, str], list[str]] = {}
    for instance in instances:
        proposed = syntaxes.setdefault(instance.context_key, [])
        candidates = [instance.transfer_syntax_uid]
        if not instance.transfer_syntax_uid.is_compressed:
            candidates.extend(_NATIVE_FALLBACK)
        proposed.extend(ts for ts in candidates if ts not in proposed)
    return [build_context(key[0], ts) for key, ts in syntaxes.items()]


def _association_groups(instances: Sequence[_Instance]) -> list[list[_Instance]]:
    """Split a batch only where it needs more presentation contexts than one association
    can carry (order kept)."""
    groups: list[list[_Instance]] = []
    keys: set[tuple[str, str]] = set()
    for instance in instances:
        if not groups or (
            instance.context_key not in keys and len(keys) == MAX_PRESENTATION_CONTEXTS
        ):
            groups.append([])
            keys = set()
        keys.add(instance.context_key)
        groups[-1].append(instance)
    return groups


def _association_failure(assoc: Association, where: str) -> tuple[DeliveryStatus, str]:
    """Explain why an association was not established."""
    answer = assoc.acceptor.primitive
    if assoc.is_rejected and answer is not None:
        return (
            classify_association_rejection(answer.result),
            f"association rejected by {where}: {answer.result_str}, source "
            f"{answer.source_str}, reason {answer.reason_str}",
        )
    if answer is not None and answer.result == 0x00 and not assoc.accepted_contexts:
        return (
            DeliveryStatus.PERMANENT,
            f"{where} accepted none of the proposed presentation contexts",
        )
    return (
        DeliveryStatus.TRANSIENT,
        f"no association with {where} (connection refused, timed out or aborted)",
    )


class CStoreSender:
    """Sends batches of DICOM files to one peer with C-STORE.

    Parameters
    ----------
    config : DimseDestinationConfig
        The peer (host, port, AE titles), timeouts and TLS options.
    """

    def __init__(self, config: DimseDestinationConfig) -> None:
        self.config = config
        self.name = config.name

    @property
    def _where(self) -> str:
        c = self.config
        return f"{c.called_aet}@{c.host}:{c.port}"

    def send(
        self, paths: Sequence[Path], *, on_outcome: OutcomeCallback | None = None
    ) -> list[InstanceOutcome]:
        """Send a batch of DICOM files on one association.

        Parameters
        ----------
        paths : sequence of Path
            DICOM files (Part 10, with file meta), sent as stored.
        on_outcome : callable, optional
            Called with each outcome as soon as it is known.

        Returns
        -------
        list of InstanceOutcome
            One per path, in the order of ``paths``.
        """
        outcomes: list[InstanceOutcome | None] = [None] * len(paths)

        def record(index: int, outcome: InstanceOutcome) -> None:
            outcomes[index] = outcome
            if on_outcome is not None:
                on_outcome(outcome)

        instances: list[_Instance] = []
        for index, path in enumerate(paths):
            header = _read_header(index, Path(path))
            if isinstance(header, InstanceOutcome):
                record(index, header)
            else:
                instances.append(header)
        for group in _association_groups(instances):
            for instance, outcome in self._send_group(group):
                record(instance.index, outcome)
        return [o for o in outcomes if o is not None]

    def _application_entity(self) -> AE:
        c = self.config
        ae = AE(ae_title=c.calling_aet)
        ae.connection_timeout = c.timeouts.connection_s
        ae.acse_timeout = c.timeouts.acse_s
        ae.dimse_timeout = c.timeouts.dimse_s
        ae.network_timeout = c.timeouts.network_s
        return ae

    def associate(self, contexts: list[PresentationContext]) -> Association:
        """Request an association with the peer (TCP_NODELAY on, TLS if configured).

        Parameters
        ----------
        contexts : list of PresentationContext
            The presentation contexts to propose (at most 128).

        Returns
        -------
        pynetdicom.association.Association
            Check ``is_established``; the caller releases it.
        """
        c = self.config
        tls_args = None
        if c.tls.enabled:
            tls_args = (ssl_client_context(c.tls), c.tls.server_hostname or c.host)
        assoc = self._application_entity().associate(
            c.host,
            c.port,
            contexts=contexts,
            ae_title=c.called_aet,
            max_pdu=c.max_pdu,
            evt_handlers=[(evt.EVT_CONN_OPEN, enable_tcp_nodelay)],
            tls_args=tls_args,
        )
        if assoc.is_established:
            keep_responses_for_caller(assoc)
        return assoc

    def _send_group(
        self, group: Sequence[_Instance]
    ) -> Iterator[tuple[_Instance, InstanceOutcome]]:
        """Send the instances of one association, yielding (instance, outcome) as each
        response arrives; the association is released when the generator is exhausted."""
        try:
            assoc = self.associate(_presentation_contexts(group))
        except (OSError, ssl.SSLError) as exc:
            detail = f"cannot connect to {self._where}: {exc}"
            for instance in group:
                yield instance, _outcome(instance, DeliveryStatus.TRANSIENT, None, detail)
            return
        if not assoc.is_established:
            status, detail = _association_failure(assoc, self._where)
            for instance in group:
                yield instance, _outcome(instance, status, None, detail)
            return
        try:
            for number, instance in enumerate(group):
                if assoc.is_established:
                    yield instance, self._store_one(assoc, instance, number)
                else:
                    detail = f"association with {self._where} lost before this instance"
                    yield instance, _outcome(instance, DeliveryStatus.TRANSIENT, None, detail)
        finally:
            if assoc.is_established:
                assoc.release()

    def _store_one(self, assoc: Association, instance: _Instance, number: int) -> InstanceOutcome:
        """One C-STORE request and its classified response."""
        try:
            dataset: Dataset = dcmread(instance.path)
        except (OSError, InvalidDicomError) as exc:
            return _outcome(
                instance, DeliveryStatus.PERMANENT, None, f"cannot read DICOM file: {exc}"
            )
        try:
            response = assoc.send_c_store(dataset, msg_id=number % 65535 + 1)
        except ValueError as exc:  # no accepted context for it, or it cannot be encoded
            return _outcome(instance, DeliveryStatus.PERMANENT, None, str(exc))
        except (RuntimeError, OSError) as exc:  # association dropped under us
            return _outcome(instance, DeliveryStatus.TRANSIENT, None, str(exc))
        status_value = response.get("Status")
        status = int(status_value) if status_value is not None else None
        classified = classify_dimse_status(status)
        if status is None:
            detail = f"no C-STORE response from {self._where} (timeout or connection lost)"
        else:
            comment = response.get("ErrorComment", "")
            detail = f"C-STORE status 0x{status:04X}" + (f": {comment}" if comment else "")
        return _outcome(instance, classified, status, detail)


def echo(config: DimseDestinationConfig) -> EchoResult:
    """Verify a peer with C-ECHO (association, echo, release).

    Parameters
    ----------
    config : DimseDestinationConfig
        The peer, AE titles, timeouts and TLS options.

    Returns
    -------
    EchoResult
        Classified like a C-STORE: refused connections are ``TRANSIENT``, rejected
        associations ``PERMANENT`` (unless rejected-transient). Never raises for network or
        peer trouble.
    """
    sender = CStoreSender(config)
    started = time.perf_counter()
    context = build_context(Verification, list(_NATIVE_FALLBACK))
    try:
        assoc = sender.associate([context])
    except (OSError, ssl.SSLError) as exc:
        elapsed = (time.perf_counter() - started) * 1000.0
        return EchoResult(DeliveryStatus.TRANSIENT, None, f"cannot connect: {exc}", elapsed)
    if not assoc.is_established:
        status, detail = _association_failure(assoc, sender._where)
        elapsed = (time.perf_counter() - started) * 1000.0
        return EchoResult(status, None, detail, elapsed)
    try:
        response = assoc.send_c_echo()
    finally:
        if assoc.is_established:
            assoc.release()
    elapsed = (time.perf_counter() - started) * 1000.0
    status_value = response.get("Status")
    dimse_status = int(status_value) if status_value is not None else None
    detail = (
        "no C-ECHO response (timeout or connection lost)"
        if dimse_status is None
        else f"C-ECHO status 0x{dimse_status:04X}"
    )
    return EchoResult(classify_dimse_status(dimse_status), dimse_status, detail, elapsed)
