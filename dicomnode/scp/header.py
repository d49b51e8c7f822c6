"""Reading the few header fields the node needs, without pixel data.

Two entry points: :func:`read_header` for a Part 10 file (the spool scan at start-up) and
:func:`read_data_set_header` for a data set as received by C-STORE, whose transfer syntax
is that of its presentation context. The second skips the File Meta Information and the
pydicom ``Dataset`` and converts only the elements it keeps: ~40 us instead of ~250 us per
instance, with the same results (tested against :func:`read_header`).
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path
from typing import cast

from pydicom.charset import convert_encodings
from pydicom.datadict import dictionary_VR
from pydicom.dataelem import DataElement, RawDataElement
from pydicom.errors import InvalidDicomError
from pydicom.filereader import data_element_generator, read_partial
from pydicom.tag import BaseTag, Tag
from pydicom.uid import UID
from pydicom.values import convert_value

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

_SPECIFIC_CHARACTER_SET = Tag("SpecificCharacterSet")
"""(0008,0005): the character sets of the text values read."""

_DATA_SET_TAGS: list[BaseTag | int] = [*_READ_TAGS, _SPECIFIC_CHARACTER_SET]
"""What :func:`read_data_set_header` reads (pydicom's ``read_partial`` adds (0008,0005) to
its specific tags itself)."""

_PARSE_ERRORS = (
    InvalidDicomError,
    ValueError,
    TypeError,
    LookupError,
    EOFError,
    OSError,
    struct.error,
    NotImplementedError,
    zlib.error,
)
"""What pydicom raises on data it cannot parse."""

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


def _header(values: dict[str, str], transfer_syntax_uid: str) -> InstanceHeader:
    """An :class:`InstanceHeader` from the values found by keyword ('' or absent: none)."""
    return InstanceHeader(
        sop_class_uid=values.get("SOPClassUID", ""),
        sop_instance_uid=values.get("SOPInstanceUID", ""),
        study_instance_uid=values.get("StudyInstanceUID", ""),
        series_instance_uid=values.get("SeriesInstanceUID", ""),
        transfer_syntax_uid=transfer_syntax_uid,
        fields={keyword: values[keyword] for keyword in HEADER_KEYWORDS if values.get(keyword)},
    )


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
        return _header(found, transfer_syntax)
    except _PARSE_ERRORS as exc:
        raise HeaderError(f"data set cannot be parsed: {type(exc).__name__}") from exc


def read_data_set_header(data_set: bytes, transfer_syntax_uid: str) -> InstanceHeader:
    """Parse a data set without File Meta Information up to Series Number.

    Parameters
    ----------
    data_set : bytes
        The data set as received (C-STORE), encoded in ``transfer_syntax_uid``.
    transfer_syntax_uid : str
        Its transfer syntax (that of the presentation context).

    Returns
    -------
    InstanceHeader
        The same as :func:`read_header` gives for the Part 10 file of this data set.

    Raises
    ------
    HeaderError
        If the data is not readable DICOM.
    """
    try:
        syntax = UID(transfer_syntax_uid)
        if syntax.is_deflated:
            data_set = zlib.decompress(data_set, -zlib.MAX_WBITS)
        raw: dict[int, RawDataElement | DataElement] = {
            int(element.tag): element
            for element in data_element_generator(
                BytesIO(data_set),
                syntax.is_implicit_VR,
                syntax.is_little_endian,
                stop_when=_past_last,
                specific_tags=_DATA_SET_TAGS,
            )
        }
        character_set = raw.pop(_SPECIFIC_CHARACTER_SET, None)
        encodings = convert_encodings(
            None if character_set is None else cast(str | list[str], _value(character_set, None))
        )
        values = {
            keyword: _value(raw[tag], encodings)
            for keyword, tag in zip(_READ_KEYWORDS, _READ_TAGS, strict=True)
            if tag in raw
        }
        found = {keyword: str(value) for keyword, value in values.items() if value is not None}
        return _header(found, transfer_syntax_uid)
    except _PARSE_ERRORS as exc:
        raise HeaderError(f"data set cannot be parsed: {type(exc).__name__}") from exc


def _value(element: RawDataElement | DataElement, encodings: list[str] | None) -> object:
    """The value of a raw element as pydicom converts it (VR from the dictionary when the
    transfer syntax is implicit)."""
    if isinstance(element, DataElement):
        return element.value
    vr = element.VR or dictionary_VR(element.tag)
    return convert_value(vr, element, encodings)
