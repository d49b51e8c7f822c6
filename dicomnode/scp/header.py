"""Reading the few header fields the node needs, after a strict walk of the whole data set.

One path for both entry points: :func:`read_data_set_header` for a data set as received by
C-STORE (transfer syntax of its presentation context) and :func:`read_header` for a Part
10 file (the spool scan at start-up: pydicom reads the File Meta Information, the data set
after it goes the same way). The data set is walked to its last byte
(:func:`pipeline.dicomio.walk_data_set`) and its Pixel Data checked against the image
geometry (:func:`pipeline.dicomio.check_pixel_data`) before anything is read from it; only
the elements kept are converted, without a pydicom ``Dataset``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from pydicom.charset import convert_encodings, default_encoding, python_encoding
from pydicom.datadict import dictionary_VR
from pydicom.tag import Tag
from pydicom.uid import UID
from pydicom.values import convert_text

from pipeline.dicomio import (
    GEOMETRY_TAGS,
    DataSetLayout,
    Element,
    PixelDataError,
    StructureError,
    check_pixel_data,
    walk_data_set,
)
from pipeline.dicomio.part10 import Part10Error, split_part10

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

_UID_TAGS = {
    "SOPClassUID": 0x00080016,
    "SOPInstanceUID": 0x00080018,
    "StudyInstanceUID": 0x0020000D,
    "SeriesInstanceUID": 0x0020000E,
}
"""The UIDs read (VR UI), by keyword."""

_FIELD_TAGS = {keyword: int(Tag(keyword)) for keyword in HEADER_KEYWORDS}
"""The text fields read, by keyword."""

_SPECIFIC_CHARACTER_SET = 0x00080005
"""(0008,0005): the character sets of the text values read."""

_KEEP = frozenset(
    {*_UID_TAGS.values(), *_FIELD_TAGS.values(), _SPECIFIC_CHARACTER_SET, *GEOMETRY_TAGS}
)
"""The top-level elements whose values the walk keeps."""

_DICTIONARY_VRS = {tag: str(dictionary_VR(tag)) for tag in _KEEP}
"""Their VRs in the data dictionary."""

class HeaderError(ValueError):
    """The data cannot be parsed as DICOM in its transfer syntax (the reason says what
    and where, never a value)."""


class DataSetMismatchError(HeaderError):
    """The data set parses but does not match its SOP class: Pixel Data missing or not
    fitting the image geometry (the reason names attributes and sizes, never a value)."""


@dataclass(frozen=True)
class InstanceHeader:
    """Identifying UIDs and key fields of one instance, as found (not yet validated).

    Parameters
    ----------
    sop_class_uid, sop_instance_uid, study_instance_uid, series_instance_uid : str
        The UIDs in the data set ('' where absent).
    transfer_syntax_uid : str
        The transfer syntax the data set was read in (presentation context or file meta).
    fields : dict of str to str
        :data:`HEADER_KEYWORDS` present and non-empty, as strings. PHI: never log it.
    assumed : tuple of str
        What was taken from elsewhere than the data set, in plain words (see
        :func:`with_sop_class_from`); empty when nothing was.
    """

    sop_class_uid: str
    sop_instance_uid: str
    study_instance_uid: str
    series_instance_uid: str
    transfer_syntax_uid: str
    fields: dict[str, str]
    assumed: tuple[str, ...] = ()


def with_sop_class_from(header: InstanceHeader, sop_class_uid: str, source: str) -> InstanceHeader:
    """``header`` with ``sop_class_uid`` where its data set has none (anonymisers empty it),
    the assumption recorded in plain words.

    Parameters
    ----------
    header : InstanceHeader
        As read from the data set.
    sop_class_uid : str
        The SOP Class UID found elsewhere (file meta, C-STORE request).
    source : str
        Where it was found, e.g. "the file meta".

    Returns
    -------
    InstanceHeader
        ``header`` itself when its SOP Class UID is not empty or ``sop_class_uid`` is.
    """
    if header.sop_class_uid or not sop_class_uid:
        return header
    name = UID(sop_class_uid).name
    note = f"SOP Class UID empty in the data set; taken from {source}: {name}"
    return replace(header, sop_class_uid=sop_class_uid, assumed=(*header.assumed, note))


def read_header(source: bytes | Path) -> InstanceHeader:
    """Read a Part 10 file (bytes in memory or a path) as :func:`read_data_set_header`
    reads its data set, in the transfer syntax of its File Meta Information.

    Raises
    ------
    HeaderError
        If the file cannot be read, its File Meta Information has no transfer syntax, or
        its data set fails :func:`read_data_set_header`.
    """
    try:
        data = source if isinstance(source, bytes) else source.read_bytes()
        part10 = split_part10(data)
    except OSError as exc:
        raise HeaderError(f"file cannot be read: {type(exc).__name__}") from exc
    except Part10Error as exc:
        raise HeaderError(str(exc)) from exc
    header = read_data_set_header(data[part10.data_set_offset :], part10.transfer_syntax_uid)
    return with_sop_class_from(header, part10.media_storage_sop_class_uid, "the file meta")


def read_data_set_header(data_set: bytes, transfer_syntax_uid: str) -> InstanceHeader:
    """Walk a data set without File Meta Information to its end, check its Pixel Data,
    and read its UIDs and :data:`HEADER_KEYWORDS`.

    Parameters
    ----------
    data_set : bytes
        The data set as received (C-STORE), encoded in ``transfer_syntax_uid``.
    transfer_syntax_uid : str
        Its transfer syntax (that of the presentation context).

    Returns
    -------
    InstanceHeader
        The values found; UIDs as encoded less one trailing pad (NUL or space), so that a
        bad UID reaches :func:`dicomnode.scp.uids.uid_problem` as it came.

    Raises
    ------
    DataSetMismatchError
        If Pixel Data is missing for an image SOP class or does not fit the geometry.
    HeaderError
        If the data set does not parse to its end in that transfer syntax, or a value read
        has a VR other than the dictionary's (or UN).
    """
    try:
        layout = walk_data_set(data_set, transfer_syntax_uid, _KEEP)
    except StructureError as exc:
        raise HeaderError(f"data set cannot be parsed: {exc}") from exc
    elements = layout.elements
    uids = {keyword: _uid(elements.get(tag), tag) for keyword, tag in _UID_TAGS.items()}
    try:
        check_pixel_data(layout, uids["SOPClassUID"])
    except PixelDataError as exc:
        raise DataSetMismatchError(f"data set does not match its SOP class: {exc}") from exc
    return InstanceHeader(
        sop_class_uid=uids["SOPClassUID"],
        sop_instance_uid=uids["SOPInstanceUID"],
        study_instance_uid=uids["StudyInstanceUID"],
        series_instance_uid=uids["SeriesInstanceUID"],
        transfer_syntax_uid=transfer_syntax_uid,
        fields=_fields(layout),
    )


def _checked(element: Element, tag: int) -> bytes:
    """The value of a kept element whose VR is the dictionary's (or UN)."""
    expected = _DICTIONARY_VRS[tag]
    if element.vr not in (expected, "UN"):
        raise HeaderError(
            f"({tag >> 16:04X},{tag & 0xFFFF:04X}) has VR {element.vr} instead of {expected}"
        )
    return element.value


def _uid(element: Element | None, tag: int) -> str:
    """A UI value less one trailing NUL or space pad ('' when absent); anything else in
    it is kept for the caller's UID check."""
    if element is None:
        return ""
    value = _checked(element, tag)
    if value[-1:] in (b"\0", b" "):
        value = value[:-1]
    return value.decode("latin-1")


def _encodings(charset: bytes | None) -> list[str]:
    """The Python encodings of a Specific Character Set value, as pydicom converts it;
    the default (ISO IR 6, read as Latin-1) when absent, empty or naming a term pydicom
    does not know (pydicom would then warn with the value: no value reaches a log)."""
    terms = [] if charset is None else charset.decode("latin-1").split("\\")
    terms = [term.strip(" \0") for term in terms]
    if not any(terms) or not all(term in python_encoding for term in terms if term):
        return [default_encoding]
    return list(convert_encodings(terms))


def _fields(layout: DataSetLayout) -> dict[str, str]:
    """The :data:`HEADER_KEYWORDS` present and non-empty, decoded with the Specific
    Character Set (pydicom's decoding, without its value validation: no value reaches a
    log)."""
    elements = layout.elements
    charset = elements.get(_SPECIFIC_CHARACTER_SET)
    encodings = _encodings(None if charset is None else _checked(charset, _SPECIFIC_CHARACTER_SET))
    fields = {}
    for keyword, tag in _FIELD_TAGS.items():
        element = elements.get(tag)
        if element is None:
            continue
        text = str(convert_text(_checked(element, tag), encodings)).strip()
        if text:
            fields[keyword] = text
    return fields
