"""Folder destination on a real file system."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydicom import dcmread

from dicomnode.delivery.base import DeliveryStatus
from dicomnode.delivery.config import FolderDestinationConfig
from dicomnode.delivery.folder import FolderSender


def sender(root: Path) -> FolderSender:
    return FolderSender(FolderDestinationConfig(name="archive", path=root))


def test_files_land_under_study_series_instance(tmp_path, ct_files):
    root = tmp_path / "out"

    outcomes = sender(root).send(ct_files)

    assert {o.status for o in outcomes} == {DeliveryStatus.SUCCESS}
    for path, outcome in zip(ct_files, outcomes, strict=True):
        ds = dcmread(path, stop_before_pixels=True)
        target = root / ds.StudyInstanceUID / ds.SeriesInstanceUID / f"{ds.SOPInstanceUID}.dcm"
        assert outcome.sop_instance_uid == ds.SOPInstanceUID
        assert target.read_bytes() == path.read_bytes()
    assert not list(root.rglob("*.part"))


def test_resending_is_an_idempotent_overwrite(tmp_path, ct_files):
    root = tmp_path / "out"
    sender(root).send(ct_files[:2])

    outcomes = sender(root).send(ct_files[:2])

    assert {o.status for o in outcomes} == {DeliveryStatus.SUCCESS}
    assert len([p for p in root.rglob("*") if p.is_file()]) == 2


@pytest.mark.lenient_dicom  # a UID that is not one, on purpose
def test_uid_unfit_for_a_path_is_permanent(tmp_path, ct_files):
    evil = tmp_path / "evil.dcm"
    ds = dcmread(ct_files[0])
    ds.SeriesInstanceUID = "../../etc"
    ds.save_as(evil)

    outcomes = sender(tmp_path / "out").send([evil, ct_files[1]])

    assert [o.status for o in outcomes] == [DeliveryStatus.PERMANENT, DeliveryStatus.SUCCESS]
    assert "SeriesInstanceUID" in outcomes[0].detail
    assert not (tmp_path / "etc").exists()


def test_not_dicom_is_permanent(tmp_path):
    junk = tmp_path / "junk.dcm"
    junk.write_bytes(b"hello")

    assert sender(tmp_path / "out").send([junk])[0].status is DeliveryStatus.PERMANENT


def test_destination_that_is_a_file_is_transient(tmp_path, ct_files):
    root = tmp_path / "not-a-folder"
    root.write_bytes(b"")

    outcomes = sender(root).send(ct_files[:1])

    assert outcomes[0].status is DeliveryStatus.TRANSIENT
    assert "cannot write" in outcomes[0].detail
