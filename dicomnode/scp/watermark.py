"""Disk-space watermark of the spool: refuse new work before the disk fills."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path


def free_bytes(path: Path) -> int:
    """Bytes free for unprivileged users on the file system holding ``path``.

    ``path`` need not exist yet: its nearest existing parent is measured.
    """
    current = path
    while not current.exists() and current != current.parent:
        current = current.parent
    return shutil.disk_usage(current).free


@dataclass(frozen=True)
class DiskWatermark:
    """The spool's file system must keep ``min_free_bytes`` free.

    Parameters
    ----------
    root : Path
        The spool folder.
    min_free_bytes : int
        Watermark in bytes; 0 disables the check.
    """

    root: Path
    min_free_bytes: int

    def problem(self) -> str | None:
        """Why the spool is too full, or ``None`` when there is room (or no watermark)."""
        if self.min_free_bytes <= 0:
            return None
        free = free_bytes(self.root)
        if free >= self.min_free_bytes:
            return None
        return (
            f"spool disk space low: {free} bytes free, watermark {self.min_free_bytes} bytes"
        )
