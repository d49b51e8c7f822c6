"""Helpers shared by the audit database tests (imported by their conftest and tests)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

CT_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.2"
SEGMENTATION_STORAGE = "1.2.840.10008.5.1.4.1.1.66.4"
EXPLICIT_VR_LITTLE_ENDIAN = "1.2.840.10008.1.2.1"
STUDY_UID = "1.2.826.0.1.1"

Receive = Callable[..., list[int]]
"""``receive(series_uid, count, *, study_uid=..., first=0, header=None, association_id=None)``"""


class Clock:
    """A settable clock (timezone-aware UTC)."""

    def __init__(self) -> None:
        self.now = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        """Move time forward."""
        self.now += timedelta(seconds=seconds)
