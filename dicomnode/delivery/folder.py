"""A folder destination: results written as DICOM files, durably and idempotently.

Each file is copied byte for byte to
``{root}/{StudyInstanceUID}/{SeriesInstanceUID}/{SOPInstanceUID}.dcm`` through a temporary
``*.part`` file that is fsync'd and renamed, then the folder is fsync'd: a reader never sees
a half-written file and a crash never loses an acknowledged one. Sending the same instance
again overwrites it.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Sequence
from pathlib import Path

from pydicom import dcmread
from pydicom.errors import InvalidDicomError

from dicomnode.delivery.base import DeliveryStatus, InstanceOutcome
from dicomnode.delivery.config import FolderDestinationConfig

_UID = re.compile(r"^[0-9]+(\.[0-9]+)*$")
"""PS3.5 9.1: digits separated by dots (the only UIDs allowed to become path parts)."""


def _checked_uid(value: object, keyword: str) -> str:
    """Return ``value`` as a UID fit for a path component, or raise ValueError."""
    text = str(value).strip()
    if len(text) > 64 or not _UID.match(text):
        raise ValueError(f"{keyword} is not a valid UID: {text[:70]!r}")
    return text


def _fsync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_durably(source: Path, target: Path) -> None:
    """Copy ``source`` to ``target`` atomically: ``*.part``, fsync, rename, fsync the folder.

    Parameters
    ----------
    source : Path
        File to copy.
    target : Path
        Final path; its parent folders are created. An existing file is replaced.

    Raises
    ------
    OSError
        On any disk trouble; the ``*.part`` file is removed.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    part = target.with_name(f"{target.name}.{os.getpid()}.part")
    try:
        with source.open("rb") as src, part.open("wb") as dst:
            shutil.copyfileobj(src, dst, length=1 << 20)
            dst.flush()
            os.fsync(dst.fileno())
        os.replace(part, target)
    except OSError:
        part.unlink(missing_ok=True)
        raise
    _fsync_directory(target.parent)


class FolderSender:
    """Writes result files into a folder tree.

    Parameters
    ----------
    config : FolderDestinationConfig
        The root folder and destination name.
    """

    def __init__(self, config: FolderDestinationConfig) -> None:
        self.config = config
        self.name = config.name

    def target_path(self, study_uid: str, series_uid: str, sop_instance_uid: str) -> Path:
        """Where an instance with these (already checked) UIDs is written."""
        return self.config.path / study_uid / series_uid / f"{sop_instance_uid}.dcm"

    def send(self, paths: Sequence[Path]) -> list[InstanceOutcome]:
        """Write each file; one outcome per path, in order.

        Returns
        -------
        list of InstanceOutcome
            ``SUCCESS`` when written and fsync'd; ``PERMANENT`` for a file that is not
            DICOM or whose UIDs are unfit for a path; ``TRANSIENT`` for disk trouble at the
            destination (full, unmounted share), which may clear.
        """
        return [self._send_one(Path(p)) for p in paths]

    def _send_one(self, path: Path) -> InstanceOutcome:
        try:
            header = dcmread(path, stop_before_pixels=True)
            sop_uid = _checked_uid(header.SOPInstanceUID, "SOPInstanceUID")
            target = self.target_path(
                _checked_uid(header.StudyInstanceUID, "StudyInstanceUID"),
                _checked_uid(header.SeriesInstanceUID, "SeriesInstanceUID"),
                sop_uid,
            )
        except (OSError, InvalidDicomError, AttributeError, ValueError) as exc:
            return InstanceOutcome(
                path, "", DeliveryStatus.PERMANENT, None, f"cannot file this instance: {exc}"
            )
        try:
            write_durably(path, target)
        except OSError as exc:
            return InstanceOutcome(
                path, sop_uid, DeliveryStatus.TRANSIENT, None, f"cannot write {target}: {exc}"
            )
        return InstanceOutcome(path, sop_uid, DeliveryStatus.SUCCESS, None, f"written to {target}")
