"""DICOM TLS: C-STORE and C-ECHO to a pynetdicom SCP that requires TLS and a client
certificate (certificates made with the openssl command line)."""

from __future__ import annotations

import ssl
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian
from pynetdicom import AE, evt
from pynetdicom.sop_class import Verification  # type: ignore[attr-defined]

from dicomnode.delivery.base import DeliveryStatus
from dicomnode.delivery.config import DimseDestinationConfig, DimseTimeouts, TlsConfig
from dicomnode.delivery.dimse import CStoreSender, echo

pytestmark = pytest.mark.peers


def self_signed(folder: Path, name: str) -> tuple[Path, Path]:
    """A self-signed EC certificate for localhost and 127.0.0.1."""
    cert, key = folder / f"{name}.crt", folder / f"{name}.key"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-days",
            "1",
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=DNS:localhost,IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


@dataclass
class TlsScp:
    port: int
    cert: Path
    key: Path
    received: list[str]


@pytest.fixture
def tls_scp(tmp_path: Path, unused_port: int) -> Iterator[TlsScp]:
    """A TLS Storage SCP that trusts only its own certificate, which the client also uses."""
    cert, key = self_signed(tmp_path, "node")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=str(cert))
    context.verify_mode = ssl.CERT_REQUIRED
    context.load_cert_chain(str(cert), str(key))
    scp = TlsScp(unused_port, cert, key, [])

    def handle_store(event: evt.Event) -> int:
        scp.received.append(str(event.dataset.SOPInstanceUID))
        return 0x0000

    ae = AE(ae_title="TLSSCP")
    ae.add_supported_context(Verification)
    ae.add_supported_context(CTImageStorage, [ExplicitVRLittleEndian])
    server = ae.start_server(
        ("127.0.0.1", unused_port),
        block=False,
        ssl_context=context,
        evt_handlers=[(evt.EVT_C_STORE, handle_store)],
    )
    assert server is not None
    try:
        yield scp
    finally:
        server.shutdown()


def config(port: int, tls: TlsConfig) -> DimseDestinationConfig:
    return DimseDestinationConfig(
        name="tls",
        port=port,
        called_aet="TLSSCP",
        tls=tls,
        timeouts=DimseTimeouts(connection_s=5, acse_s=5, dimse_s=5, network_s=5),
    )


def test_mutual_tls_store_and_echo(tls_scp, ct_files):
    tls = TlsConfig(
        enabled=True, ca_file=tls_scp.cert, cert_file=tls_scp.cert, key_file=tls_scp.key
    )

    outcomes = CStoreSender(config(tls_scp.port, tls)).send(ct_files[:2])

    assert [o.status for o in outcomes] == [DeliveryStatus.SUCCESS] * 2
    assert tls_scp.received == [o.sop_instance_uid for o in outcomes]
    assert echo(config(tls_scp.port, tls)).status is DeliveryStatus.SUCCESS


def test_untrusted_server_certificate_sends_nothing(tls_scp, ct_files, tmp_path):
    other_ca, _ = self_signed(tmp_path, "other")
    tls = TlsConfig(enabled=True, ca_file=other_ca, cert_file=tls_scp.cert, key_file=tls_scp.key)

    outcomes = CStoreSender(config(tls_scp.port, tls)).send(ct_files[:1])

    # pynetdicom reports a failed handshake like a failed connection: transient
    assert outcomes[0].status is DeliveryStatus.TRANSIENT
    assert tls_scp.received == []


def test_plain_connection_to_tls_peer_sends_nothing(tls_scp, ct_files):
    outcomes = CStoreSender(config(tls_scp.port, TlsConfig())).send(ct_files[:1])

    assert outcomes[0].status is DeliveryStatus.TRANSIENT
    assert tls_scp.received == []
