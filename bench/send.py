"""C-STORE throughput: our CStoreSender against DCMTK's storescu, same files, same receiver.

Not part of CI. Generates a CT series (pydicom, random pixels), starts the receivers on
loopback (Orthanc with its storage in a temporary folder, and DCMTK ``storescp --ignore``
as a sink that measures the sender alone), and times each sender ``--repeats`` times per
receiver. Prints one JSON document: median seconds, instances/s, MB/s, and the ratio
``ours / storescu`` of median times (below 1: we are faster).

    python bench/send.py --count 200 --size 512 --repeats 3
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from pydicom import Dataset
from pydicom.dataset import FileMetaDataset
from pydicom.uid import (
    PYDICOM_IMPLEMENTATION_UID,
    CTImageStorage,
    ExplicitVRLittleEndian,
    generate_uid,
)

from dicomnode.delivery.config import DimseDestinationConfig
from dicomnode.delivery.dimse import CStoreSender

STORESCU = "/usr/bin/storescu"
STORESCP = "/usr/bin/storescp"
ORTHANC = "/usr/sbin/Orthanc"
ENV = {**os.environ, "TCP_NODELAY": "1"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_port(port: int, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"nothing listens on {port}")


def write_series(folder: Path, count: int, size: int) -> list[Path]:
    """``count`` CT files of ``size`` x ``size`` int16 pixels, Explicit VR Little Endian."""
    folder.mkdir(parents=True)
    study, series = generate_uid(), generate_uid()
    rng = np.random.default_rng(0)
    paths = []
    for number in range(count):
        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID = CTImageStorage
        meta.MediaStorageSOPInstanceUID = generate_uid()
        meta.TransferSyntaxUID = ExplicitVRLittleEndian
        meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID
        ds = Dataset()
        ds.file_meta = meta
        ds.SOPClassUID, ds.SOPInstanceUID = CTImageStorage, meta.MediaStorageSOPInstanceUID
        ds.StudyInstanceUID, ds.SeriesInstanceUID = study, series
        ds.PatientName, ds.PatientID, ds.Modality = "Bench^Send", "BENCH", "CT"
        ds.InstanceNumber = number + 1
        ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
        ds.Rows = ds.Columns = size
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 1
        ds.PixelData = rng.integers(-1024, 2000, (size, size), dtype=np.int16).tobytes()
        path = folder / f"{number:05d}.dcm"
        ds.save_as(path, enforce_file_format=True)
        paths.append(path)
    return paths


@contextmanager
def orthanc(root: Path) -> Iterator[tuple[int, str]]:
    port, http = free_port(), free_port()
    config = {
        "StorageDirectory": str(root / "storage"),
        "IndexDirectory": str(root / "index"),
        "DicomAet": "ORTHANC",
        "DicomPort": port,
        "HttpPort": http,
        "RemoteAccessAllowed": False,
        "AuthenticationEnabled": False,
        "DicomCheckCalledAet": True,
        "SaveJobs": False,
        "Plugins": [],
    }
    (root / "orthanc.json").write_text(json.dumps(config))
    process = subprocess.Popen(
        [ORTHANC, str(root / "orthanc.json")],
        env=ENV,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port)
        yield port, "ORTHANC"
    finally:
        process.terminate()
        process.wait(timeout=30)


@contextmanager
def storescp_sink(_root: Path) -> Iterator[tuple[int, str]]:
    port = free_port()
    process = subprocess.Popen(
        [STORESCP, "--ignore", "-aet", "SINK", str(port)],
        env=ENV,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port)
        yield port, "SINK"
    finally:
        process.terminate()
        process.wait(timeout=30)


def time_ours(paths: list[Path], port: int, aet: str) -> float:
    sender = CStoreSender(
        DimseDestinationConfig(name="bench", port=port, called_aet=aet, calling_aet="BENCH")
    )
    started = time.perf_counter()
    outcomes = sender.send(paths)
    elapsed = time.perf_counter() - started
    if not all(o.status.delivered for o in outcomes):
        raise RuntimeError(f"CStoreSender failed: {outcomes[0].detail}")
    return elapsed


def time_storescu(folder: Path, port: int, aet: str) -> float:
    started = time.perf_counter()
    subprocess.run(
        [
            STORESCU,
            "-aet",
            "BENCH",
            "-aec",
            aet,
            "-nh",
            "+sd",
            "+r",
            "127.0.0.1",
            str(port),
            str(folder),
        ],
        env=ENV,
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return time.perf_counter() - started


def summary(times: list[float], count: int, megabytes: float) -> dict[str, float]:
    median = statistics.median(times)
    return {
        "median_s": round(median, 3),
        "instances_per_s": round(count / median, 1),
        "mb_per_s": round(megabytes / median, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=200, help="instances per batch")
    parser.add_argument("--size", type=int, default=512, help="rows = columns")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    receivers: dict[str, Callable[[Path], object]] = {
        "orthanc": orthanc,
        "storescp_ignore": storescp_sink,
    }
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        paths = write_series(root / "ct", args.count, args.size)
        megabytes = sum(p.stat().st_size for p in paths) / 1e6
        report: dict[str, object] = {
            "instances": args.count,
            "megabytes": round(megabytes, 1),
            "repeats": args.repeats,
        }
        for name, receiver in receivers.items():
            (root / name).mkdir()
            with receiver(root / name) as (port, aet):  # type: ignore[attr-defined]
                time_ours(paths[:5], port, aet)  # warm-up: imports, first association
                ours, dcmtk = [], []
                for _ in range(args.repeats):
                    ours.append(time_ours(paths, port, aet))
                    dcmtk.append(time_storescu(root / "ct", port, aet))
            report[name] = {
                "dicomnode": summary(ours, args.count, megabytes),
                "storescu": summary(dcmtk, args.count, megabytes),
                "ratio_time_ours_over_storescu": round(
                    statistics.median(ours) / statistics.median(dcmtk), 2
                ),
            }
        json.dump(report, sys.stdout, indent=2)
        print()


if __name__ == "__main__":
    main()
