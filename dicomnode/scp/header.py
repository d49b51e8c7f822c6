"""Reading the few header fields the node needs from a Part 10 file, without pixel data."""

from __future__ import annotations

from dataclasses import dataclass
from io import BytesIO
from pathlib import Path

from pydicom.errors import InvalidDicomError
from pydicom.filereader import read_partial
from pydicom.tag import BaseTag, Tag

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


_READ_TAGS: list[BaseTag | int] = [Tag(keyword) for keyword in _READ_KEYWORDS]

_LAST_TAG = 0x00200011
"""(0020,0011) Series Number: the last element read; parsing stops at the next one, so
private groups, image geometry and pixel data are never parsed."""


def _past_last(tag: BaseTag, vr: str | None, length: int) -> bool:
    return tag > _LAST_TAG


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
    """Parse the header of a Part 10 file (bytes in memory or a path) up to Series Number.

    Raises
    ------
    HeaderError
        If the data is not readable DICOM.
    """
    try:
        with BytesIO(source) if isinstance(source, bytes) else source.open("rb") as stream:
            dataset = read_partial(stream, stop_when=_past_last, specific_tags=_READ_TAGS)
        meta = getattr(dataset, "file_meta", None)
        transfer_syntax = str(getattr(meta, "TransferSyntaxUID", "") or "")

        text = {keyword: dataset.get(keyword) for keyword in _READ_KEYWORDS}
        found = {keyword: str(value) for keyword, value in text.items() if value is not None}
        return InstanceHeader(
            sop_class_uid=found.get("SOPClassUID", ""),
            sop_instance_uid=found.get("SOPInstanceUID", ""),
            study_instance_uid=found.get("StudyInstanceUID", ""),
            series_instance_uid=found.get("SeriesInstanceUID", ""),
            transfer_syntax_uid=transfer_syntax,
            fields={keyword: found[keyword] for keyword in HEADER_KEYWORDS if found.get(keyword)},
        )
    except (InvalidDicomError, ValueError, TypeError, KeyError, EOFError, OSError) as exc:
        raise HeaderError(f"data set cannot be parsed: {type(exc).__name__}") from exc
