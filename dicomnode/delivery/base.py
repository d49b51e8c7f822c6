"""The port every destination implements, and how a send's outcome is classified.

A :class:`Sender` sends one batch (one association for DICOM peers) and reports one
:class:`InstanceOutcome` per file. It never raises for network or peer trouble: that is an
outcome (``TRANSIENT`` or ``PERMANENT``); the outbox decides about retries and dead letters.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Protocol


class DeliveryStatus(StrEnum):
    """How one instance's send ended."""

    SUCCESS = "success"
    """Stored (DIMSE 0x0000, HTTP 200, file written)."""
    WARNING = "warning"
    """Stored with a warning (DIMSE 0x0001, 0xB000-0xBFFF); counts as delivered."""
    TRANSIENT = "transient"
    """Not stored; worth retrying (0xA7xx, no response, association failed or aborted)."""
    PERMANENT = "permanent"
    """Not stored; retrying will not help (0x0122, 0x0124, 0xA9xx, 0xCxxx, rejection)."""

    @property
    def delivered(self) -> bool:
        """Whether the instance reached the destination."""
        return self in (DeliveryStatus.SUCCESS, DeliveryStatus.WARNING)


@dataclass(frozen=True)
class InstanceOutcome:
    """The outcome of sending one file.

    Parameters
    ----------
    path : Path
        The file that was sent.
    sop_instance_uid : str
        Its SOP Instance UID.
    status : DeliveryStatus
        Classification of the outcome.
    dimse_status : int or None
        DIMSE status (or HTTP status for STOW-RS) where the peer answered.
    detail : str
        Human-readable explanation (no PHI).
    """

    path: Path
    sop_instance_uid: str
    status: DeliveryStatus
    dimse_status: int | None
    detail: str


class Sender(Protocol):
    """A destination that result instances are sent to."""

    name: str
    """The destination's configured name (used in the audit DB)."""

    def send(self, paths: Sequence[Path]) -> list[InstanceOutcome]:
        """Send a batch of DICOM files; one outcome per path, in the same order."""
        ...
