"""DICOM TLS on the SCP port: server certificate, and optionally required client ones."""

from __future__ import annotations

import ssl
import subprocess
from pathlib import Path

import pydicom
import pytest
from conftest import ReceivePathProbe, free_port
from pydicom.uid import CTImageStorage
from pynetdicom import AE
from pynetdicom.sop_class import Verification  # type: ignore[attr-defined]

from dicomnode.scp.config import ScpConfig
from dicomnode.scp.server import start_scp
from dicomnode.scp.spool import SpoolWriter

pytestmark = pytest.mark.peers


class _Sink:
    def publish(self, event: object) -> None:
        """Events are not looked at here."""


def _certificate(folder: Path, name: str) -> tuple[Path, Path]:
    cert, key = folder / f"{name}.pem", folder / f"{name}.key"
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"),
            *("-subj", f"/CN={name}", "-addext", "subjectAltName=IP:127.0.0.1"),
            *("-keyout", str(key), "-out", str(cert)),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


def _client_context(server_cert: Path, client: tuple[Path, Path] | None) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=str(server_cert))
    context.check_hostname = False
    if client is not None:
        context.load_cert_chain(str(client[0]), str(client[1]))
    return context


def _store(port: int, path: Path, context: ssl.SSLContext | None) -> int | None:
    """C-STORE one file over TLS (or plain); the status, or None if no association."""
    ae = AE(ae_title="DEMOSENDER")
    ae.add_requested_context(CTImageStorage)
    ae.add_requested_context(Verification)
    # pynetdicom passes the hostname to wrap_socket; None skips SNI (its hint says str)
    tls_args = (context, None) if context is not None else None
    assoc = ae.associate(
        "127.0.0.1",
        port,
        ae_title="DICOMNODE",
        tls_args=tls_args,  # type: ignore[arg-type]
    )
    if not assoc.is_established:
        return None
    status = assoc.send_c_store(pydicom.dcmread(path))
    assoc.release()
    return int(status.Status) if status else None


@pytest.mark.parametrize("require_client_cert", [False, True])
def test_tls_storage(
    tmp_path: Path, ct_folder: Path, receive_path: ReceivePathProbe, require_client_cert: bool
) -> None:
    server_cert, server_key = _certificate(tmp_path, "server")
    client = _certificate(tmp_path, "client")
    tls = {
        "enabled": True,
        "cert_file": str(server_cert),
        "key_file": str(server_key),
        "ca_file": str(client[0]),
        "require_client_cert": require_client_cert,
    }
    config = ScpConfig.model_validate({"port": free_port(), "tls": tls, **receive_path.config()})
    spool = tmp_path / "spool"
    running = start_scp(config, SpoolWriter(spool), _Sink())
    source = sorted(ct_folder.iterdir())[0]
    try:
        assert _store(running.port, source, _client_context(server_cert, client)) == 0
        assert _store(running.port, source, None) is None  # plain DICOM is not spoken
        anonymous = _store(running.port, source, _client_context(server_cert, None))
        assert anonymous == (None if require_client_cert else 0)
    finally:
        running.stop(grace_s=1)
    assert len(list(spool.glob("*/*/*.dcm"))) == 1
    receive_path.check(1 if require_client_cert else 2)  # stores that reached the node
