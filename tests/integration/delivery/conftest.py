"""Real peers on loopback for the delivery tests: DCMTK storescp, Orthanc (+ DICOMweb), and a
pynetdicom Storage SCP that answers with scripted statuses. Each fixture starts its peer on a
free port under a temporary folder and stops it afterwards."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
import requests
from pydicom import Dataset
from pydicom.dataset import FileMetaDataset
from pydicom.uid import (
    PYDICOM_IMPLEMENTATION_UID,
    UID,
    CTImageStorage,
    ExplicitVRLittleEndian,
    generate_uid,
)
from pynetdicom import AE, evt
from pynetdicom.sop_class import Verification  # type: ignore[attr-defined]

STORESCP = Path("/usr/bin/storescp")
ORTHANC = Path("/usr/sbin/Orthanc")
DICOMWEB_PLUGIN = Path("/usr/share/orthanc/plugins/libOrthancDicomWeb.so")
PEER_ENV = {**os.environ, "TCP_NODELAY": "1"}


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
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def write_ct_series(
    folder: Path, count: int, size: int = 16, transfer_syntax: UID = ExplicitVRLittleEndian
) -> list[Path]:
    """Write ``count`` small CT Image Storage files of one series; return their paths."""
    folder.mkdir(parents=True, exist_ok=True)
    study, series, frame = generate_uid(), generate_uid(), generate_uid()
    rng = np.random.default_rng(7)
    paths = []
    for number in range(count):
        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID = CTImageStorage
        meta.MediaStorageSOPInstanceUID = generate_uid()
        meta.TransferSyntaxUID = transfer_syntax
        meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID
        ds = Dataset()
        ds.file_meta = meta
        ds.SOPClassUID = CTImageStorage
        ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
        ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.FrameOfReferenceUID = study, series, frame
        ds.PatientName, ds.PatientID = "Delivery^Test", "DELIVERY1"
        ds.Modality, ds.StudyID, ds.SeriesNumber, ds.InstanceNumber = "CT", "1", 1, number + 1
        ds.StudyDate, ds.StudyTime, ds.AccessionNumber = "20260101", "120000", "A1"
        ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
        ds.ImagePositionPatient = [0.0, 0.0, float(number) * 2.5]
        ds.ImageOrientationPatient = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0]
        ds.PixelSpacing, ds.SliceThickness = [0.8, 0.8], 2.5
        ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
        ds.Rows = ds.Columns = size
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 1
        ds.RescaleIntercept, ds.RescaleSlope = -1024.0, 1.0
        pixels = rng.integers(0, 2000, size=(size, size), dtype=np.int16)
        ds.PixelData = pixels.tobytes()
        path = folder / f"ct{number:03d}.dcm"
        ds.save_as(path, enforce_file_format=True)
        paths.append(path)
    return paths


@pytest.fixture
def unused_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    return free_port()


@pytest.fixture
def make_ct() -> Callable[..., list[Path]]:
    """:func:`write_ct_series`, for tests that need other counts or sizes."""
    return write_ct_series


@pytest.fixture
def ct_files(tmp_path: Path) -> list[Path]:
    """Five 16x16 CT files of one series, Explicit VR Little Endian."""
    return write_ct_series(tmp_path / "ct", 5)


@dataclass
class StoreScp:
    port: int
    aet: str
    folder: Path


@pytest.fixture
def storescp(tmp_path: Path) -> Iterator[StoreScp]:
    """DCMTK storescp writing what it receives to a temporary folder."""
    assert STORESCP.exists(), "DCMTK storescp is required"
    port, folder = free_port(), tmp_path / "storescp"
    folder.mkdir()
    process = subprocess.Popen(
        [str(STORESCP), "-aet", "RCV", "-od", str(folder), str(port)],
        env=PEER_ENV,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port, process)
        yield StoreScp(port, "RCV", folder)
    finally:
        stop(process)


@dataclass
class OrthancPeer:
    dicom_port: int
    http_port: int
    aet: str
    dicomweb: bool

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def lookup(self, sop_instance_uid: str) -> list[dict[str, str]]:
        reply = requests.post(f"{self.url}/tools/lookup", data=sop_instance_uid, timeout=10)
        reply.raise_for_status()
        return list(reply.json())

    def instance_file(self, orthanc_id: str) -> bytes:
        reply = requests.get(f"{self.url}/instances/{orthanc_id}/file", timeout=10)
        reply.raise_for_status()
        return reply.content


@pytest.fixture(scope="module")
def orthanc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OrthancPeer]:
    """Orthanc 1.10 with the DICOMweb plugin where Debian's package is installed."""
    assert ORTHANC.exists(), "Orthanc is required"
    root = tmp_path_factory.mktemp("orthanc")
    dicomweb = DICOMWEB_PLUGIN.exists()
    peer = OrthancPeer(free_port(), free_port(), "ORTHANCTEST", dicomweb)
    config = {
        "Name": "delivery-test",
        "StorageDirectory": str(root / "storage"),
        "IndexDirectory": str(root / "index"),
        "DicomAet": peer.aet,
        "DicomPort": peer.dicom_port,
        "HttpPort": peer.http_port,
        "RemoteAccessAllowed": False,
        "AuthenticationEnabled": False,
        "DicomCheckCalledAet": True,
        "DicomModalities": {"node": ["DICOMNODE", "127.0.0.1", free_port()]},
        "StableAge": 1,
        "SaveJobs": False,
        "Plugins": [str(DICOMWEB_PLUGIN)] if dicomweb else [],
        "DicomWeb": {"Enable": True, "Root": "/dicom-web/"},
    }
    config_path = root / "orthanc.json"
    config_path.write_text(json.dumps(config))
    log = (root / "orthanc.log").open("wb")
    process = subprocess.Popen(
        [str(ORTHANC), str(config_path)], env=PEER_ENV, stdout=log, stderr=log
    )
    try:
        wait_for_port(peer.http_port, process)
        wait_for_port(peer.dicom_port, process)
        yield peer
    finally:
        stop(process)
        log.close()
        shutil.rmtree(root, ignore_errors=True)


@dataclass
class ScriptedScp:
    """A pynetdicom Storage SCP that answers the n-th C-STORE with ``statuses[n]``
    (0x0000 beyond the list), aborts the association before answering request number
    ``abort_at`` (0-based; None: never) and waits ``delays_s[n]`` seconds before answering."""

    port: int
    aet: str
    statuses: list[int] = field(default_factory=list)
    abort_at: int | None = None
    delays_s: dict[int, float] = field(default_factory=dict)
    received: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


@pytest.fixture
def scripted_scp() -> Iterator[ScriptedScp]:
    """Start a scripted SCP; the test sets ``statuses`` / ``abort_at`` before sending."""
    script = ScriptedScp(port=free_port(), aet="SCRIPTED")

    def handle_store(event: evt.Event) -> int:
        with script.lock:
            number = len(script.received)
            if script.abort_at is not None and number >= script.abort_at:
                event.assoc.abort()
                return 0xA700
            script.received.append(str(event.dataset.SOPInstanceUID))
        time.sleep(script.delays_s.get(number, 0.0))
        return script.statuses[number] if number < len(script.statuses) else 0x0000

    ae = AE(ae_title=script.aet)
    ae.add_supported_context(Verification)
    ae.add_supported_context(CTImageStorage, [ExplicitVRLittleEndian])
    server = ae.start_server(
        ("127.0.0.1", script.port),
        block=False,
        evt_handlers=[(evt.EVT_C_STORE, handle_store)],
    )
    assert server is not None
    try:
        yield script
    finally:
        server.shutdown()
