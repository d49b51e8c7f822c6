"""Identify a job's output files (SOP Instance UID, SOP Class UID, kind) for the audit log."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pydicom import dcmread
from pydicom.errors import InvalidDicomError
from pydicom.uid import (
    Comprehensive3DSRStorage,
    ComprehensiveSRStorage,
    EncapsulatedPDFStorage,
    EnhancedSRStorage,
    RTDoseStorage,
    SegmentationStorage,
)

from dicomnode.audit.rows import OutputKind

KIND_BY_SOP_CLASS: dict[str, OutputKind] = {
    SegmentationStorage: OutputKind.SEG,
    Comprehensive3DSRStorage: OutputKind.SR,
    ComprehensiveSRStorage: OutputKind.SR,
    EnhancedSRStorage: OutputKind.SR,
    EncapsulatedPDFStorage: OutputKind.PDF,
    RTDoseStorage: OutputKind.RTDOSE,
}
"""The result objects a job may produce, by SOP Class UID."""


class OutputError(ValueError):
    """An output file is missing, outside its work folder, unreadable or of another kind."""


@dataclass(frozen=True)
class OutputIdentity:
    """What the audit log records about an output file."""

    path: Path
    sop_instance_uid: str
    sop_class_uid: str
    kind: OutputKind


def identify_output(path: Path, work_dir: Path) -> OutputIdentity:
    """Read the identity of one output file (header only).

    Raises
    ------
    OutputError
        The file is outside ``work_dir``, unreadable, or not a SEG, SR, PDF or RT Dose object.
    """
    resolved = path.resolve()
    if not resolved.is_relative_to(work_dir.resolve()):
        raise OutputError(f"output {path} is outside the job's work folder")
    try:
        dataset = dcmread(
            resolved, stop_before_pixels=True, specific_tags=["SOPClassUID", "SOPInstanceUID"]
        )
        sop_class_uid = str(dataset.SOPClassUID)
        sop_instance_uid = str(dataset.SOPInstanceUID)
    except (OSError, AttributeError, ValueError, InvalidDicomError) as exc:
        raise OutputError(f"output {path.name} is not a readable DICOM object: {exc}") from exc
    kind = KIND_BY_SOP_CLASS.get(sop_class_uid)
    if kind is None:
        raise OutputError(f"output {path.name} has unsupported SOP Class UID {sop_class_uid}")
    return OutputIdentity(resolved, sop_instance_uid, sop_class_uid, kind)
