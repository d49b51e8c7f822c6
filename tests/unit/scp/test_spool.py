"""Durable spool writes, layout, scans and clean-up."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from dicomnode.scp.spool import SpoolError, SpoolWriter

STUDY, SERIES, SOP = "1.2.3", "1.2.3.4", "1.2.3.4.5"


def test_write_places_bytes_under_study_series_sop(tmp_path: Path) -> None:
    writer = SpoolWriter(tmp_path / "spool")
    result = writer.write(STUDY, SERIES, SOP, b"abc" * 1000)
    assert result.path == tmp_path / "spool" / STUDY / SERIES / f"{SOP}.dcm"
    assert result.path.read_bytes() == b"abc" * 1000
    assert result.size_bytes == 3000
    assert not result.replaced
    assert list(result.path.parent.iterdir()) == [result.path]


def test_duplicate_overwrites_and_says_so(tmp_path: Path) -> None:
    writer = SpoolWriter(tmp_path)
    writer.write(STUDY, SERIES, SOP, b"first")
    again = writer.write(STUDY, SERIES, SOP, b"second")
    assert again.replaced
    assert again.path.read_bytes() == b"second"


@pytest.mark.parametrize("uid", ["..", "1.2/../../x", "1" * 65, ""])
def test_unsafe_uids_never_become_paths(tmp_path: Path, uid: str) -> None:
    writer = SpoolWriter(tmp_path / "spool")
    with pytest.raises(ValueError):
        writer.write(STUDY, uid, SOP, b"x")
    assert not (tmp_path / "spool").exists()


def test_failed_write_raises_spool_error_and_leaves_no_part(tmp_path: Path) -> None:
    writer = SpoolWriter(tmp_path)
    (tmp_path / STUDY).write_bytes(b"a file where the study folder should be")
    with pytest.raises(SpoolError):
        writer.write(STUDY, SERIES, SOP, b"x")
    assert list(tmp_path.rglob("*.part")) == []


def test_disk_full_is_a_spool_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def full(fd: int, data: object) -> int:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "write", full)
    writer = SpoolWriter(tmp_path)
    with pytest.raises(SpoolError, match="No space left"):
        writer.write(STUDY, SERIES, SOP, b"x")
    monkeypatch.undo()
    assert list(tmp_path.rglob("*.part")) == []
    assert list(tmp_path.rglob("*.dcm")) == []


def test_scan_lists_instances_and_clean_up_removes_parts(tmp_path: Path) -> None:
    writer = SpoolWriter(tmp_path)
    writer.write(STUDY, SERIES, SOP, b"x")
    writer.write(STUDY, SERIES, SOP + "1", b"y")
    leftover = tmp_path / STUDY / SERIES / f"{SOP}2.dcm.77-1.part"
    leftover.write_bytes(b"partial")
    (tmp_path / STUDY / SERIES / "notes.dcm").write_bytes(b"not a uid name")
    found = sorted(entry.sop_instance_uid for entry in writer.scan())
    assert found == [SOP, SOP + "1"]
    assert writer.remove_partial_files() == 1
    assert not leftover.exists()
