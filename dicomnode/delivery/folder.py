"""A folder destination: results written as DICOM files, durably and idempotently.

Each file is copied byte for byte to
``{root}/{StudyInstanceUID}/{SeriesInstanceUID}/{SOPInstanceUID}.dcm`` with
:func:`pipeline.durable.atomic_write` (``*.part``, fsync, rename, fsync of the folder): a
reader never sees a half-written file and a crash never loses an acknowledged one. Sending
the same instance again overwrites it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from pydicom import dcmread
from pydicom.errors import InvalidDicomError

from dicomnode.delivery.base import DeliveryStatus, InstanceOutcome
from dicomnode.delivery.config import FolderDestinationConfig
from pipeline.durable import atomic_write

_UID = re.compile(r"^[0-9]+(\.[0-9]+)*$")
"""PS3.5 9.1: digits separated by dots (the only UIDs allowed to become path parts)."""


def _checked_uid(value: object, keyword: str) -> str:
    """Return ``value`` as a UID fit for a path component, or raise ValueError."""
    text = str(value).strip()
    if len(text) > 64 or not _UID.match(text):
        raise ValueError(f"{keyword} is not a valid UID: {text[:70]!r}")
    return text


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
            target.parent.mkdir(parents=True, exist_ok=True)
            atomic_write(target, path.read_bytes())
        except OSError as exc:
            return InstanceOutcome(
                path, sop_uid, DeliveryStatus.TRANSIENT, None, f"cannot write {target}: {exc}"
            )
        return InstanceOutcome(path, sop_uid, DeliveryStatus.SUCCESS, None, f"written to {target}")
