"""Real peers on loopback shared by several test folders: Orthanc (+ DICOMweb) and the
PostgreSQL server on 127.0.0.1:5432.

Test folders import this module after putting ``tests/`` on ``sys.path`` (the suite runs
with ``--import-mode=importlib``). Every peer is started on free ports under a temporary
folder and stopped afterwards; nothing is left running.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
import requests

ORTHANC = Path("/usr/sbin/Orthanc")
DICOMWEB_PLUGIN = Path("/usr/share/orthanc/plugins/libOrthancDicomWeb.so")
PEER_ENV = {**os.environ, "TCP_NODELAY": "1"}
"""Environment for Orthanc and DCMTK tools: Nagle off (Debian's builds need it)."""

PG_DSN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres connect_timeout=3"
PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/{database}"


def free_port() -> int:
    """A TCP port nobody listens on right now (127.0.0.1)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_port(port: int, process: subprocess.Popen[bytes], timeout_s: float = 20.0) -> None:
    """Wait until ``process`` accepts TCP connections on ``port``."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"peer exited with {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listens on port {port} after {timeout_s} s")


def stop(process: subprocess.Popen[bytes]) -> None:
    """Terminate a peer process; kill it after 10 s."""
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@dataclass
class OrthancPeer:
    """A running Orthanc: its DICOM and HTTP ports, AE title and REST helpers."""

    dicom_port: int
    http_port: int
    aet: str
    dicomweb: bool

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def get(self, path: str) -> Any:
        """``GET`` a REST resource and return its JSON."""
        reply = requests.get(f"{self.url}{path}", timeout=30)
        reply.raise_for_status()
        return reply.json()

    def post(self, path: str, body: Any, timeout_s: float = 30.0) -> Any:
        """``POST`` JSON (or a plain string) to a REST resource and return its JSON."""
        data = body if isinstance(body, str) else json.dumps(body)
        reply = requests.post(f"{self.url}{path}", data=data, timeout=timeout_s)
        reply.raise_for_status()
        return reply.json()

    def lookup(self, sop_instance_uid: str) -> list[dict[str, str]]:
        return list(self.post("/tools/lookup", sop_instance_uid))

    def instance_file(self, orthanc_id: str) -> bytes:
        reply = requests.get(f"{self.url}/instances/{orthanc_id}/file", timeout=30)
        reply.raise_for_status()
        return reply.content

    def set_modality(self, name: str, aet: str, port: int, host: str = "127.0.0.1") -> None:
        """Declare (or replace) a DICOM modality Orthanc can send to."""
        reply = requests.put(
            f"{self.url}/modalities/{name}",
            data=json.dumps({"AET": aet, "Host": host, "Port": port}),
            timeout=10,
        )
        reply.raise_for_status()


@contextmanager
def run_orthanc(
    root: Path,
    *,
    aet: str = "ORTHANCTEST",
    modalities: Mapping[str, list[Any]] | None = None,
    dicomweb: bool = True,
    extra: Mapping[str, Any] | None = None,
) -> Iterator[OrthancPeer]:
    """Run Orthanc 1.10 on free ports with its storage under ``root``.

    Parameters
    ----------
    root : Path
        Folder for the configuration, storage, index and log (created).
    aet : str
        Orthanc's AE title (DicomCheckCalledAet is on).
    modalities : mapping, optional
        DicomModalities: name -> [AET, host, port].
    dicomweb : bool
        Load Debian's DICOMweb plugin when it is installed.
    extra : mapping, optional
        Further configuration entries (override the defaults).
    """
    assert ORTHANC.exists(), "Orthanc is required"
    root.mkdir(parents=True, exist_ok=True)
    with_dicomweb = dicomweb and DICOMWEB_PLUGIN.exists()
    peer = OrthancPeer(free_port(), free_port(), aet, with_dicomweb)
    config: dict[str, Any] = {
        "Name": "dicomnode-test",
        "StorageDirectory": str(root / "storage"),
        "IndexDirectory": str(root / "index"),
        "DicomAet": peer.aet,
        "DicomPort": peer.dicom_port,
        "HttpPort": peer.http_port,
        "RemoteAccessAllowed": False,
        "AuthenticationEnabled": False,
        "DicomCheckCalledAet": True,
        "DicomModalities": dict(modalities or {}),
        "StableAge": 1,
        "SaveJobs": False,
        "Plugins": [str(DICOMWEB_PLUGIN)] if with_dicomweb else [],
        "DicomWeb": {"Enable": True, "Root": "/dicom-web/"},
        **(extra or {}),
    }
    config_path = root / "orthanc.json"
    config_path.write_text(json.dumps(config))
    with (root / "orthanc.log").open("wb") as log:
        process = subprocess.Popen(
            [str(ORTHANC), str(config_path)], env=PEER_ENV, stdout=log, stderr=log
        )
        try:
            wait_for_port(peer.http_port, process)
            wait_for_port(peer.dicom_port, process)
            yield peer
        finally:
            stop(process)


def postgres_reachable() -> bool:
    """Whether the PostgreSQL server on 127.0.0.1:5432 answers (user postgres)."""
    try:
        with psycopg.connect(PG_DSN):
            return True
    except psycopg.OperationalError:
        return False


def _start_postgres() -> None:
    versions = (
        sorted(p.name for p in Path("/etc/postgresql").glob("*"))
        if Path("/etc/postgresql").is_dir()
        else []
    )
    for version in versions:
        subprocess.run(
            ["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "start"],
            check=False,
            capture_output=True,
            timeout=60,
        )


def require_postgres() -> None:
    """Make sure the PostgreSQL server runs (start it if needed).

    When it cannot be reached the calling test fails under ``CI=true`` and is skipped
    otherwise.
    """
    require_peer(
        postgres_reachable,
        _start_postgres,
        "PostgreSQL on 127.0.0.1:5432 (user postgres) cannot be reached",
        wait_s=20.0,
    )


def require_peer(
    reachable: Callable[[], bool], start: Callable[[], None], message: str, *, wait_s: float
) -> None:
    """Make sure a peer answers: if ``reachable()`` is false, ``start()`` it and wait up to
    ``wait_s`` seconds. When it still does not answer the calling test fails with
    ``message`` under ``CI=true`` (CI must have every peer) and is skipped otherwise."""
    if not reachable():
        start()
        deadline = time.monotonic() + wait_s
        while not reachable() and time.monotonic() < deadline:
            time.sleep(0.5)
    if not reachable():
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)


@contextmanager
def postgres_database() -> Iterator[str]:
    """A fresh, empty PostgreSQL database (SQLAlchemy URL), dropped afterwards."""
    name = f"dicomnode_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_DSN, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield PG_URL.format(database=name)
    finally:
        with psycopg.connect(PG_DSN, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
