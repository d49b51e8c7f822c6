"""Defined terms of series selection: contrast phases and reconstruction kernel classes."""

from __future__ import annotations

from enum import StrEnum


class ContrastPhase(StrEnum):
    """Contrast phase of a CT acquisition; the value is its machine name."""

    NATIVE = "native"
    ARTERIAL = "arterial"
    PORTAL_VENOUS = "portal_venous"
    DELAYED = "delayed"
    UNKNOWN = "unknown"


class KernelClass(StrEnum):
    """Class of a reconstruction (convolution) kernel."""

    SOFT_TISSUE = "soft_tissue"
    BONE = "bone"
    LUNG = "lung"
    UNKNOWN = "unknown"
