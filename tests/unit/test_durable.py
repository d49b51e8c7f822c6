"""atomic_write: content, replacement, permissions, concurrent writers, no left-overs."""

from __future__ import annotations

import os
import stat
import threading
from pathlib import Path

import pytest

from pipeline.durable import PART_SUFFIX, atomic_write, fsync_directory, part_path


def test_writes_the_bytes_and_leaves_no_part_file(tmp_path: Path) -> None:
    target = tmp_path / "result.json"
    assert atomic_write(target, b'{"a": 1}') == target
    assert target.read_bytes() == b'{"a": 1}'
    assert list(tmp_path.iterdir()) == [target]


@pytest.mark.parametrize("wrap", [bytes, bytearray, memoryview])
def test_accepts_any_bytes_like(tmp_path: Path, wrap: type) -> None:
    payload = bytes(range(256)) * 1000
    atomic_write(tmp_path / "x.bin", wrap(payload), fsync_dir=False)
    assert (tmp_path / "x.bin").read_bytes() == payload


def test_replaces_an_existing_file_and_an_interrupted_part(tmp_path: Path) -> None:
    target = tmp_path / "sr.dcm"
    target.write_bytes(b"old content that is longer than the new")
    part_path(target).write_bytes(b"left by a crash, longer than the new content")
    atomic_write(target, b"new")
    assert target.read_bytes() == b"new"
    assert list(tmp_path.iterdir()) == [target]


def test_mode_sets_the_permissions_of_a_new_file(tmp_path: Path) -> None:
    umask = os.umask(0o022)
    try:
        atomic_write(tmp_path / "a.dcm", b"x", mode=0o640)
        atomic_write(tmp_path / "b.dcm", b"x")
    finally:
        os.umask(umask)
    assert stat.S_IMODE((tmp_path / "a.dcm").stat().st_mode) == 0o640
    assert stat.S_IMODE((tmp_path / "b.dcm").stat().st_mode) == 0o644


def test_a_failed_rename_raises_and_removes_the_part_file(tmp_path: Path) -> None:
    target = tmp_path / "taken"
    (target / "inside").mkdir(parents=True)  # a non-empty folder cannot be replaced by a file
    with pytest.raises(OSError):
        atomic_write(target, b"data")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["taken"]
    assert not list(tmp_path.glob(f"*{PART_SUFFIX}"))


def test_a_missing_folder_raises(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        atomic_write(tmp_path / "missing" / "result.json", b"{}")
    assert list(tmp_path.iterdir()) == []


def test_fsync_directory_refuses_a_file(tmp_path: Path) -> None:
    (tmp_path / "f").write_bytes(b"")
    with pytest.raises(NotADirectoryError):
        fsync_directory(tmp_path / "f")


def test_concurrent_writers_of_one_target_leave_one_whole_payload(tmp_path: Path) -> None:
    target = tmp_path / "instance.dcm"
    payloads = [bytes([n]) * 3_000_000 for n in range(8)]
    threads = [threading.Thread(target=atomic_write, args=(target, p)) for p in payloads]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert target.read_bytes() in payloads
    assert list(tmp_path.iterdir()) == [target]
