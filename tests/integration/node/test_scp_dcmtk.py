"""The Storage/Verification SCP against DCMTK (and pynetdicom for malformed data) on loopback.

The SCP runs in this process with a recording sink; every test checks what reached the
spool, what was reported, and that the node still answers a C-ECHO afterwards. Tests that
store run over every receive path (conftest ``receive_path``) and check that their C-STORE
requests took it.
"""

from __future__ import annotations

import copy
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pydicom
import pytest
from conftest import (
    ReceivePathProbe,
    RecordingSink,
    dcmtk_env,
    echoscu,
    free_port,
    send_raw,
    storescu,
)
from ct_series import write_ct_series
from pydicom.uid import (
    UID,
    DeflatedExplicitVRLittleEndian,
    JPEG2000Lossless,
    generate_uid,
)

from dicomnode.scp.config import ScpConfig
from dicomnode.scp.events import (
    AssociationRefused,
    InstanceRefused,
    InstanceStored,
)
from dicomnode.scp.server import RunningScp, start_scp
from dicomnode.scp.spool import SpoolWriter
from dicomnode.scp.status import StoreStatus

pytestmark = pytest.mark.peers


class Node:
    """A running in-process SCP with its spool, sink and receive path."""

    def __init__(
        self, running: RunningScp, spool: Path, sink: RecordingSink, path: ReceivePathProbe
    ) -> None:
        self.running, self.spool, self.sink, self.path = running, spool, sink, path
        self.port = running.port

    def stored_files(self) -> list[Path]:
        return sorted(self.spool.glob("*/*/*.dcm"))

    def check_path(self) -> None:
        """Every C-STORE request answered (stored or refused) took the receive path."""
        self.path.check(len(self.sink.of(InstanceStored)) + len(self.sink.of(InstanceRefused)))


def _start(
    tmp_path: Path, path: ReceivePathProbe, spool: Path | None = None, **config: object
) -> Node:
    settings = ScpConfig.model_validate({"port": free_port(), **path.config(), **config})
    sink = RecordingSink()
    spool = spool or tmp_path / "spool"
    running = start_scp(settings, SpoolWriter(spool), sink)
    return Node(running, spool, sink, path)


@pytest.fixture
def node(tmp_path: Path, receive_path: ReceivePathProbe) -> Iterator[Node]:
    started = _start(tmp_path, receive_path)
    yield started
    started.running.stop(grace_s=1)


def _pixels(path: Path) -> np.ndarray:
    return pydicom.dcmread(path).pixel_array


def test_echo_and_plain_series_are_stored_as_sent(node: Node, ct_folder: Path) -> None:
    assert echoscu(node.port) == 0
    result = storescu(node.port, ct_folder)
    assert result.returncode == 0, result.stderr
    stored = node.stored_files()
    assert len(stored) == 6
    sources = {pydicom.dcmread(p).SOPInstanceUID: p for p in ct_folder.iterdir()}
    for path in stored:
        received = pydicom.dcmread(path)  # a valid Part 10 file with file meta
        assert received.file_meta.MediaStorageSOPInstanceUID == received.SOPInstanceUID
        source = pydicom.dcmread(sources[received.SOPInstanceUID])
        assert path.parts[-3:] == (
            source.StudyInstanceUID,
            source.SeriesInstanceUID,
            f"{source.SOPInstanceUID}.dcm",
        )
        assert received.PixelData == source.PixelData
    events = node.sink.of(InstanceStored)
    assert len(events) == 6 and not any(e.replaced for e in events)
    assert events[0].header["Modality"] == "CT"
    assert events[0].association.calling_aet == "DEMOSENDER"
    node.check_path()


def _compress_with_dcmtk(tool: list[str], source: Path, target: Path) -> None:
    target.mkdir()
    for path in sorted(source.iterdir()):
        subprocess.run([*tool, str(path), str(target / path.name)], check=True, env=dcmtk_env())


def _compress_with_pydicom(source: Path, target: Path, syntax: str) -> None:
    target.mkdir()
    for path in sorted(source.iterdir()):
        dataset = pydicom.dcmread(path)
        if syntax == DeflatedExplicitVRLittleEndian:
            dataset.file_meta.TransferSyntaxUID = UID(syntax)
        else:
            dataset.compress(syntax, generate_instance_uid=False)
        dataset.save_as(target / path.name)


@pytest.mark.parametrize(
    ("name", "syntax", "option"),
    [
        ("jpeg-lossless-sv1", "1.2.840.10008.1.2.4.70", "-xs"),
        ("jpeg-lossless", "1.2.840.10008.1.2.4.57", ""),
        ("jpeg-ls", "1.2.840.10008.1.2.4.80", "-xt"),
        ("rle", "1.2.840.10008.1.2.5", "-xr"),
        ("jpeg2000", JPEG2000Lossless, "-xv"),
        ("deflate", DeflatedExplicitVRLittleEndian, "-xd"),
    ],
)
def test_compressed_series_are_stored_in_their_transfer_syntax(
    node: Node, ct_folder: Path, tmp_path: Path, name: str, syntax: str, option: str
) -> None:
    target = tmp_path / name
    tools = {
        "jpeg-lossless-sv1": ["/usr/bin/dcmcjpeg", "+e1"],
        "jpeg-lossless": ["/usr/bin/dcmcjpeg", "+el"],
        "jpeg-ls": ["/usr/bin/dcmcjpls"],
        "rle": ["/usr/bin/dcmcrle"],
    }
    if name in tools:
        _compress_with_dcmtk(tools[name], ct_folder, target)
    else:
        _compress_with_pydicom(ct_folder, target, syntax)
    if option:
        result = storescu(node.port, target, options=("-R", option))
        assert result.returncode == 0, result.stderr
    else:  # storescu proposes JPEG lossless only as SV1 (.70): send .57 with pynetdicom
        for path in sorted(target.iterdir()):
            assert send_raw(node.port, path, syntax) == StoreStatus.SUCCESS
    stored = node.stored_files()
    assert len(stored) == 6
    originals = {pydicom.dcmread(p).SOPInstanceUID: p for p in ct_folder.iterdir()}
    for path in stored:
        received = pydicom.dcmread(path)
        assert received.file_meta.TransferSyntaxUID == syntax
        np.testing.assert_array_equal(
            received.pixel_array, _pixels(originals[received.SOPInstanceUID])
        )
    assert {e.transfer_syntax_uid for e in node.sink.of(InstanceStored)} == {syntax}
    node.check_path()


def test_two_senders_at_once_and_a_series_over_two_associations(node: Node, tmp_path: Path) -> None:
    study, series = generate_uid(), generate_uid()
    first = write_ct_series(tmp_path / "a", 8, study_uid=study, series_uid=series, seed=2)
    second = write_ct_series(tmp_path / "b", 8, study_uid=study, series_uid=series, seed=3)
    other = tmp_path / "c"
    write_ct_series(other, 8, seed=4)
    results: list[subprocess.CompletedProcess[str]] = []
    threads = [
        threading.Thread(target=lambda f=folder: results.append(storescu(node.port, f)))
        for folder in (tmp_path / "a", other)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [r.returncode for r in results] == [0, 0]
    assert storescu(node.port, tmp_path / "b").returncode == 0
    series_files = list((node.spool / study / series).glob("*.dcm"))
    assert len(series_files) == len(first) + len(second)
    assert len(node.stored_files()) == 24
    keys = {e.association.key for e in node.sink.of(InstanceStored)}
    assert len(keys) == 3
    node.check_path()


def test_duplicates_overwrite_and_are_reported(node: Node, ct_folder: Path) -> None:
    assert storescu(node.port, ct_folder).returncode == 0
    assert storescu(node.port, ct_folder).returncode == 0
    assert len(node.stored_files()) == 6
    assert sum(e.replaced for e in node.sink.of(InstanceStored)) == 6
    node.check_path()


def test_unknown_calling_ae_is_rejected_and_reported(node: Node, ct_folder: Path) -> None:
    result = storescu(node.port, ct_folder, aet="INTRUDER")
    assert result.returncode != 0
    assert "Calling AE Title Not Recognized" in result.stderr
    refused = node.sink.of(AssociationRefused)
    assert len(refused) == 1 and "INTRUDER" in refused[0].reason
    assert node.stored_files() == []
    assert echoscu(node.port) == 0


def test_wrong_called_ae_is_rejected(node: Node, ct_folder: Path) -> None:
    result = storescu(node.port, ct_folder, aec="SOMEONE")
    assert result.returncode != 0
    assert "Called AE Title Not Recognized" in result.stderr
    assert echoscu(node.port) == 0


def test_unknown_address_is_rejected(tmp_path: Path, ct_folder: Path) -> None:
    started = _start(
        tmp_path,
        ReceivePathProbe("direct"),
        allowed_peers=[{"ae_title": "DEMOSENDER", "addresses": ["127.0.0.2"]}],
    )
    try:
        result = storescu(started.port, ct_folder)
        assert result.returncode != 0
        refused = started.sink.of(AssociationRefused)
        assert len(refused) == 1 and "127.0.0.1" in refused[0].reason
        assert started.stored_files() == []
    finally:
        started.running.stop(grace_s=1)


@pytest.mark.parametrize(
    ("name", "data_set"),
    [
        ("broken sequence", b"\x08\x00\x16\x00SQ\x00\x00\x10\x00\x00\x00garbage"),
        ("truncated", b"\x08\x00"),
    ],
)
def test_unreadable_data_set_is_refused_with_a_reason(
    node: Node, ct_folder: Path, name: str, data_set: bytes
) -> None:
    source = sorted(ct_folder.iterdir())[0]
    dataset = pydicom.dcmread(source)
    bad = ct_folder.parent / "bad.dcm"
    content = source.read_bytes()
    start = content.index(b"\x08\x00\x16\x00")  # (0008,0016) SOP Class UID: data set starts
    bad.write_bytes(content[:start] + data_set)  # valid file meta, unreadable data set
    status = send_raw(node.port, bad)
    assert status == StoreStatus.CANNOT_UNDERSTAND
    refused = node.sink.of(InstanceRefused)
    assert refused and refused[0].status == StoreStatus.CANNOT_UNDERSTAND
    assert refused[0].reason
    assert refused[0].sop_instance_uid == dataset.SOPInstanceUID
    assert node.stored_files() == []
    assert echoscu(node.port) == 0
    node.check_path()


@pytest.mark.lenient_dicom  # the sender's invalid UIDs, on purpose
def test_over_long_and_unsafe_uids_are_refused(node: Node, tmp_path: Path) -> None:
    folder = tmp_path / "long"
    paths = write_ct_series(folder, 2, series_uid="1.2." + "3" * 70)
    result = storescu(node.port, paths[0])
    assert result.returncode == 0  # storescu reports the failure status but exits 0
    refused = node.sink.of(InstanceRefused)
    assert len(refused) == 1 and refused[0].status == StoreStatus.INVALID_UID
    assert "longer than 64" in refused[0].reason
    dataset = pydicom.dcmread(paths[1])
    dataset.StudyInstanceUID = "1.2.3/../../etc"
    dataset.save_as(paths[1])
    assert send_raw(node.port, paths[1]) == StoreStatus.INVALID_UID
    assert node.stored_files() == []
    assert not (tmp_path / "etc").exists()
    assert echoscu(node.port) == 0
    node.check_path()


def test_full_disk_returns_out_of_resources_and_keeps_serving(
    tmp_path: Path, tmpfs_1m: Path, receive_path: ReceivePathProbe
) -> None:
    started = _start(tmp_path, receive_path, spool=tmpfs_1m / "spool")
    try:
        folder = tmp_path / "big"
        write_ct_series(folder, 12, size=256, seed=5)  # 12 x 128 KiB > 1 MiB
        storescu(started.port, folder)
        refused = started.sink.of(InstanceRefused)
        assert refused and {e.status for e in refused} == {StoreStatus.OUT_OF_RESOURCES}
        stored = started.sink.of(InstanceStored)
        assert len(stored) + len(refused) == 12
        assert len(started.stored_files()) == len(stored)
        assert list(tmpfs_1m.rglob("*.part")) == []
        assert echoscu(started.port) == 0
        started.check_path()
    finally:
        started.running.stop(grace_s=1)
        for path in tmpfs_1m.rglob("*.dcm"):
            path.unlink()


def _nm_pet_files(folder: Path) -> list[Path]:
    """A small multi-frame SPECT, a two-frame planar NM, three PET slices (synthetic) and one
    slice relabelled Enhanced PET Image Storage (the node checks the data set and pixel
    geometry at receive, not the IOD)."""
    from datetime import datetime

    from pipeline.synth.dicom_write import SeriesContext, StudyContext, save
    from pipeline.synth.nm_write import pet_series, planar_dataset, spect_dataset
    from pipeline.synth.render import Grid

    when = datetime(2025, 3, 10, 9, 0)
    study = StudyContext(7, generate_uid(), generate_uid(), when, when, 1.7, 70.0, "F", 60,
                         "SIEMENS", "Symbia", "", "SYNNM")
    grid = Grid((4, 16, 16), (4.42, 4.42, 4.42), (-33.0, -33.0, 0.0))
    rng = np.random.default_rng(0)
    counts = rng.poisson(50.0, grid.shape_zyx)
    spect = spect_dataset(study, SeriesContext(generate_uid(), 3, "SPECT", when, 3, False),
                          counts, grid, fwhm_mm=12.0, injected_mbq=150.0, injection_time=when)
    planar = planar_dataset(study, SeriesContext(generate_uid(), 1, "PLANAR", when, 1, False),
                            counts[0], counts[1], (4.42, 4.42), injected_mbq=150.0,
                            injection_time=when)
    pet = pet_series(study, SeriesContext(generate_uid(), 2, "PET", when, 2, False),
                     rng.uniform(0.0, 1e5, (3, 16, 16)), Grid((3, 16, 16), (4.0, 4.0, 4.0),
                                                                (0.0, 0.0, 0.0)),
                     fwhm_mm=8.0, administered_gbq=2.0, administration=when, duration_s=600.0)
    enhanced = copy.deepcopy(pet[0])
    enhanced.SOPClassUID = "1.2.840.10008.5.1.4.1.1.130"
    enhanced.SOPInstanceUID = generate_uid()
    enhanced.file_meta.MediaStorageSOPClassUID = enhanced.SOPClassUID
    enhanced.file_meta.MediaStorageSOPInstanceUID = enhanced.SOPInstanceUID
    enhanced.NumberOfFrames = 1
    paths = []
    for i, ds in enumerate([spect, planar, *pet, enhanced]):
        paths.append(folder / f"{i:02d}.dcm")
        save(ds, paths[-1])
    return paths


def test_nm_and_pet_images_are_accepted_and_stored(node: Node, tmp_path: Path) -> None:
    folder = tmp_path / "nm"
    sent = _nm_pet_files(folder)
    # -R: propose the SOP classes of the files (storescu's default list lacks Enhanced PET)
    result = storescu(node.port, folder, options=("-R",))
    assert result.returncode == 0, result.stderr
    stored = {pydicom.dcmread(p).SOPInstanceUID: p for p in node.stored_files()}
    assert len(stored) == len(sent) == 6
    for path in sent:
        source = pydicom.dcmread(path)
        received = pydicom.dcmread(stored[source.SOPInstanceUID])
        assert received.SOPClassUID == source.SOPClassUID
        assert received.PixelData == source.PixelData
    classes = {str(e.sop_class_uid) for e in node.sink.of(InstanceStored)}
    assert classes == {"1.2.840.10008.5.1.4.1.1.20", "1.2.840.10008.5.1.4.1.1.128",
                       "1.2.840.10008.5.1.4.1.1.130"}
    assert not node.sink.of(InstanceRefused)
    node.check_path()


def test_nm_pet_and_enhanced_pet_contexts_are_offered_with_compressed_syntaxes() -> None:
    from dicomnode.scp.server import build_ae

    ae = build_ae(ScpConfig(), 4)
    contexts = {str(c.abstract_syntax): c for c in ae.supported_contexts}
    for uid in ("1.2.840.10008.5.1.4.1.1.20", "1.2.840.10008.5.1.4.1.1.128",
                "1.2.840.10008.5.1.4.1.1.130"):
        syntaxes = {str(s) for s in contexts[uid].transfer_syntax}
        assert {"1.2.840.10008.1.2.1", "1.2.840.10008.1.2.4.70",
                "1.2.840.10008.1.2.4.90"} <= syntaxes
