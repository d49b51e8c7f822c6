"""Helpers shared by the audit database tests (imported by their conftest and tests)."""

from __future__ import annotations

from collections.abc import Callable

CT_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.2"
SEGMENTATION_STORAGE = "1.2.840.10008.5.1.4.1.1.66.4"
EXPLICIT_VR_LITTLE_ENDIAN = "1.2.840.10008.1.2.1"
STUDY_UID = "1.2.826.0.1.1"

Receive = Callable[..., list[int]]
"""``receive(series_uid, count, *, study_uid=..., first=0, header=None, association_id=None)``"""
