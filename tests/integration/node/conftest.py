"""Fixtures for the node's integration tests: free ports, CT series, DCMTK runners, and
the receive paths an in-process SCP can take.

In-process SCPs run without pynetdicom's standard log handlers, as the receiving processes
do below DEBUG: bound, they would send every DIMSE message down pynetdicom's path and the
direct C-STORE decoder would go untested here.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pynetdicom
import pytest

sys.path.insert(0, str(Path(__file__).parent))

from ct_series import write_ct_series
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian
from pynetdicom import AE
from pynetdicom import _config as pynetdicom_config

from dicomnode.scp._store_dimse import direct_store_requests
from dicomnode.scp.events import ReceiveEvent

UNSUPPORTED_PYNETDICOM = "0.0.0+unsupported"
"""A pynetdicom version the receive fork does not follow (dicomnode.scp._fork)."""

STORESCU = "/usr/bin/storescu"
ECHOSCU = "/usr/bin/echoscu"
SENDER_AET = "DEMOSENDER"
NODE_AET = "DICOMNODE"


class RecordingSink:
    """Keeps every published event (thread-safe)."""

    def __init__(self) -> None:
        self.events: list[ReceiveEvent] = []
        self._lock = threading.Lock()

    def publish(self, event: ReceiveEvent) -> None:
        with self._lock:
            self.events.append(event)

    def of(self, kind: type) -> list[Any]:
        with self._lock:
            return [event for event in self.events if isinstance(event, kind)]


def wait_for(check: Callable[[], bool], timeout_s: float = 5.0) -> None:
    """Poll ``check`` every 20 ms until it holds; fail after ``timeout_s`` seconds."""
    deadline = time.monotonic() + timeout_s
    while not check():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def dcmtk_env() -> dict[str, str]:
    """Environment for DCMTK tools: Nagle off (Debian's build needs TCP_NODELAY=1)."""
    return dict(os.environ, TCP_NODELAY="1")


def storescu(
    port: int,
    *paths: Path,
    aet: str = SENDER_AET,
    aec: str = NODE_AET,
    options: tuple[str, ...] = (),
) -> subprocess.CompletedProcess[str]:
    """Send files or folders with DCMTK storescu; returns the finished process."""
    command = [STORESCU, "-aet", aet, "-aec", aec, "-nh", "+sd", "+r", *options]
    command += ["127.0.0.1", str(port), *map(str, paths)]
    return subprocess.run(
        command, env=dcmtk_env(), capture_output=True, text=True, timeout=120, check=False
    )


def echoscu(port: int, aet: str = SENDER_AET) -> int:
    """C-ECHO with DCMTK echoscu; returns its exit status."""
    return subprocess.run(
        [ECHOSCU, "-aet", aet, "-aec", NODE_AET, "127.0.0.1", str(port)],
        env=dcmtk_env(),
        capture_output=True,
        timeout=60,
        check=False,
    ).returncode


@pytest.fixture(autouse=True)
def _no_pynetdicom_log_handlers(monkeypatch: pytest.MonkeyPatch) -> None:
    """In-process associations without pynetdicom's standard log handlers (module docs)."""
    monkeypatch.setattr(pynetdicom_config, "LOG_HANDLER_LEVEL", "none")


class ReceivePathProbe:
    """The receive path a test's SCP is started with, and a check that its C-STORE
    requests took it.

    Parameters
    ----------
    name : str
        ``direct`` (the fork, ``direct_store: true``), ``pynetdicom-dimse`` (the fork,
        ``direct_store: false``) or ``unforked`` (an unsupported pynetdicom version:
        pynetdicom's own reactors and DIMSE).
    """

    def __init__(self, name: str) -> None:
        self.name = name
        self.direct_store = name == "direct"
        self._direct_before = direct_store_requests()

    def config(self) -> dict[str, object]:
        """The SCP settings of this path."""
        return {"direct_store": self.direct_store}

    def check(self, requests: int) -> None:
        """Assert that ``requests`` C-STORE requests were decoded by the direct decoder
        (``direct``) or none was (the other paths: pynetdicom decoded them)."""
        decoded_directly = direct_store_requests() - self._direct_before
        assert decoded_directly == (requests if self.direct_store else 0), (
            f"{decoded_directly} of {requests} C-STORE requests decoded directly on {self.name}"
        )


@pytest.fixture(params=["direct", "pynetdicom-dimse", "unforked"])
def receive_path(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> ReceivePathProbe:
    """Each receive path in turn (see :class:`ReceivePathProbe`); ``unforked`` reports an
    unsupported pynetdicom version while the test runs."""
    if request.param == "unforked":
        monkeypatch.setattr(pynetdicom, "__version__", UNSUPPORTED_PYNETDICOM)
    return ReceivePathProbe(request.param)


@pytest.fixture
def ct_folder(tmp_path: Path) -> Path:
    """A folder with a 6-slice 64x64 CT series."""
    folder = tmp_path / "ct"
    write_ct_series(folder, 6, seed=1)
    return folder


@pytest.fixture(scope="session")
def tmpfs_1m(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A 1 MiB tmpfs (a disk that fills up); skipped where mounting is not permitted
    (a developer without root), a failure under ``CI=true``."""
    mount_point = tmp_path_factory.mktemp("tmpfs")
    result = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount_point)],
        capture_output=True,
        check=False,
    )
    if result.returncode != 0:
        message = f"cannot mount a tmpfs here: {result.stderr.decode(errors='replace')}"
        if os.environ.get("CI") == "true":
            pytest.fail(message)  # CI runs as root: a disk-full test must not vanish there
        pytest.skip(message)
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False)


def send_raw(port: int, path: Path, syntax: str = ExplicitVRLittleEndian) -> int:
    """Send a CT file's data set as its bytes are (pynetdicom's chunked send) as
    ``DEMOSENDER``; returns the C-STORE status."""
    ae = AE(ae_title=SENDER_AET)
    ae.add_requested_context(CTImageStorage, [syntax])
    previous = pynetdicom_config.STORE_SEND_CHUNKED_DATASET
    pynetdicom_config.STORE_SEND_CHUNKED_DATASET = True
    try:
        assoc = ae.associate("127.0.0.1", port, ae_title=NODE_AET)
        assert assoc.is_established
        status = assoc.send_c_store(path)
        assoc.release()
    finally:
        pynetdicom_config.STORE_SEND_CHUNKED_DATASET = previous
    return int(status.Status)
