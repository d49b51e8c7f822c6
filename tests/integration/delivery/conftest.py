"""Real peers on loopback for the delivery tests: DCMTK storescp, Orthanc (+ DICOMweb), and a
pynetdicom Storage SCP that answers with scripted statuses. Each fixture starts its peer on a
free port under a temporary folder and stops it afterwards."""

from __future__ import annotations

import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
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

sys.path.insert(0, str(Path(__file__).parents[2]))

from loopback_peers import PEER_ENV, OrthancPeer, free_port, run_orthanc, stop, wait_for_port

STORESCP = Path("/usr/bin/storescp")


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


@pytest.fixture(scope="module")
def orthanc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OrthancPeer]:
    """Orthanc 1.10 with the DICOMweb plugin where Debian's package is installed."""
    root = tmp_path_factory.mktemp("orthanc")
    modalities = {"node": ["DICOMNODE", "127.0.0.1", free_port()]}
    with run_orthanc(root, modalities=modalities) as peer:
        yield peer
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
