"""DIMSE status values the Storage SCP returns (PS3.4 Table B.2-1, PS3.7 Annex C)."""

from __future__ import annotations

from enum import IntEnum


class StoreStatus(IntEnum):
    """C-STORE response statuses used by the node."""

    SUCCESS = 0x0000
    """The instance is durably stored."""
    PROCESSING_FAILURE = 0x0110
    """Unexpected internal error (logged with its traceback)."""
    OUT_OF_RESOURCES = 0xA700
    """Disk full or I/O error while storing; the sender should retry later."""
    DATA_SET_MISMATCH = 0xA900
    """The data set does not match its SOP class (e.g. Pixel Data missing or not fitting
    the image geometry)."""
    CANNOT_UNDERSTAND = 0xC210
    """The data set could not be parsed."""
    INVALID_UID = 0xC211
    """A Study, Series or SOP Instance UID is missing, too long or not digits and dots."""
    UID_MISMATCH = 0xC212
    """The data set's SOP Instance/Class UID differs from the command's Affected UID."""
