"""Reading the few header fields the node needs from a Part 10 file, without pixel data."""

from __future__ import annotations

from dataclasses import dataclass
from io import BytesIO
from pathlib import Path

from pydicom import dcmread
from pydicom.errors import InvalidDicomError

HEADER_KEYWORDS = (
    "PatientID",
    "PatientName",
    "AccessionNumber",
    "StudyDate",
    "StudyDescription",
    "Modality",
    "SeriesDescription",
    "SeriesNumber",
)
"""Key header fields kept in the audit database with each instance."""

_READ_KEYWORDS = [
    "SOPClassUID",
    "SOPInstanceUID",
    "StudyInstanceUID",
    "SeriesInstanceUID",
    *HEADER_KEYWORDS,
]


class HeaderError(ValueError):
    """The data cannot be parsed as DICOM (the reason names the exception type only)."""


@dataclass(frozen=True)
class InstanceHeader:
    """Identifying UIDs and key fields of one instance, as found (not yet validated).

    Parameters
    ----------
    sop_class_uid, sop_instance_uid, study_instance_uid, series_instance_uid : str
        The UIDs in the data set ('' where absent).
    transfer_syntax_uid : str
        Transfer Syntax UID of the file meta ('' where absent).
    fields : dict of str to str
        :data:`HEADER_KEYWORDS` present and non-empty, as strings. PHI: never log it.
    """

    sop_class_uid: str
    sop_instance_uid: str
    study_instance_uid: str
    series_instance_uid: str
    transfer_syntax_uid: str
    fields: dict[str, str]


def read_header(source: bytes | Path) -> InstanceHeader:
    """Parse the header of a Part 10 file (bytes in memory or a path), stopping at pixels.

    Raises
    ------
    HeaderError
        If the data is not readable DICOM.
    """
    try:
        dataset = dcmread(
            BytesIO(source) if isinstance(source, bytes) else source,
            stop_before_pixels=True,
            specific_tags=_READ_KEYWORDS,
        )
        meta = getattr(dataset, "file_meta", None)
        transfer_syntax = str(getattr(meta, "TransferSyntaxUID", "") or "")

        def text(keyword: str) -> str:
            value = dataset.get(keyword)
            return "" if value is None else str(value)

        fields = {keyword: text(keyword) for keyword in HEADER_KEYWORDS if text(keyword)}
        return InstanceHeader(
            sop_class_uid=text("SOPClassUID"),
            sop_instance_uid=text("SOPInstanceUID"),
            study_instance_uid=text("StudyInstanceUID"),
            series_instance_uid=text("SeriesInstanceUID"),
            transfer_syntax_uid=transfer_syntax,
            fields=fields,
        )
    except (InvalidDicomError, ValueError, TypeError, KeyError, EOFError, OSError) as exc:
        raise HeaderError(f"data set cannot be parsed: {type(exc).__name__}") from exc
