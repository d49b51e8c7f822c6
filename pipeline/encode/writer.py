"""A DICOM file's bytes, as pydicom writes them, with the per-frame functional groups fast.

pydicom's writer encodes every nested dataset on its own: for a SEG of 1,500-2,700 frames
that is 10,000-20,000 small datasets, each checked for ambiguous VRs, about a second. The
SEG's fast path (:mod:`pipeline.encode.seg_frames`) shares the elements of a plane's
macros (Plane Position, Derivation Image) between the frames on that plane and the Segment
Identification element between the frames of a segment; each such element is encoded once
here and its bytes reused.

:func:`file_bytes` gives exactly the bytes of ``ds.save_as(buffer,
enforce_file_format=True)``: the elements before the Per-Frame Functional Groups Sequence
(and the file meta information) are written by pydicom; that sequence is written item by
item, every element of an item by pydicom's ``write_data_element`` (its bytes cached per
element object), as pydicom writes a sequence of defined length whose items have defined
lengths; the elements after it by ``write_data_element``. Any other dataset (no such
sequence, another transfer syntax than explicit VR little endian, a sequence or item of
undefined length) is written by ``save_as`` itself. ``tests/unit/encode/test_writer.py``
compares the bytes with ``save_as``'s.
"""

from __future__ import annotations

import io
import struct

from pydicom.dataelem import DataElement, RawDataElement
from pydicom.dataset import Dataset
from pydicom.filebase import DicomBytesIO
from pydicom.filewriter import correct_ambiguous_vr_element, write_data_element
from pydicom.tag import ItemTag
from pydicom.uid import ExplicitVRLittleEndian
from pydicom.valuerep import AMBIGUOUS_VR

PER_FRAME_FUNCTIONAL_GROUPS = 0x52009230
"""Tag of the Per-Frame Functional Groups Sequence."""

_SPECIFIC_CHARACTER_SET = 0x00080005

_ITEM = struct.pack("<HH", ItemTag >> 16, ItemTag & 0xFFFF)


def file_bytes(ds: Dataset) -> bytes:
    """The DICOM file of ``ds`` (preamble, file meta information, data set).

    Parameters
    ----------
    ds : pydicom.Dataset
        A dataset with file meta information (e.g. a highdicom SOP instance).

    Returns
    -------
    bytes
        What ``ds.save_as(buffer, enforce_file_format=True)`` writes.
    """
    if not _fast_path_applies(ds):
        return _saved(ds)
    encodings = ds.get("SpecificCharacterSet", "iso8859")
    elements = sorted(ds.elements(), key=lambda e: e.tag)  # as read: raw ones not converted
    head = Dataset({e.tag: e for e in elements if e.tag < PER_FRAME_FUNCTIONAL_GROUPS})
    head.file_meta = ds.file_meta
    preamble = getattr(ds, "preamble", None)
    if preamble is not None:
        head.preamble = preamble
    sequence = _sequence(ds[PER_FRAME_FUNCTIONAL_GROUPS], encodings)
    if sequence is None:
        return _saved(ds)
    parts = [_saved(head), sequence]
    for element in elements:
        if element.tag > PER_FRAME_FUNCTIONAL_GROUPS:
            corrected = correct_ambiguous_vr_element(ds[element.tag], ds, True)
            parts.append(_element(corrected, encodings))
    return b"".join(parts)


def _fast_path_applies(ds: Dataset) -> bool:
    meta = getattr(ds, "file_meta", None)
    if meta is None or meta.get("TransferSyntaxUID") != ExplicitVRLittleEndian:
        return False
    if PER_FRAME_FUNCTIONAL_GROUPS not in ds:
        return False
    sequence = ds[PER_FRAME_FUNCTIONAL_GROUPS]
    return not sequence.is_undefined_length and not any(
        getattr(item, "is_undefined_length_sequence_item", False) for item in sequence.value
    )


def _saved(ds: Dataset) -> bytes:
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def _element(element: DataElement | RawDataElement, encodings: str | list[str]) -> bytes:
    buffer = DicomBytesIO()
    buffer.is_little_endian, buffer.is_implicit_VR = True, False
    write_data_element(buffer, element, encodings)
    return buffer.getvalue()


def _sequence(sequence: DataElement, encodings: str | list[str]) -> bytes | None:
    """An SQ element of defined length whose items have defined lengths, as pydicom writes
    it; each element object's bytes are made once. None where an item holds an element
    that pydicom would convert or correct first (a raw element, an ambiguous VR) or its
    own Specific Character Set."""
    done: dict[int, bytes] = {}
    items = []
    for item in sequence.value:
        if _SPECIFIC_CHARACTER_SET in item:
            return None
        body = []
        for tag in sorted(item.keys()):
            if tag.element == 0 and tag.group > 6:
                continue  # pydicom does not write (retired) group lengths
            element = item.get_item(tag)
            encoded = done.get(id(element))
            if encoded is None:
                if not isinstance(element, DataElement) or element.VR in AMBIGUOUS_VR:
                    return None
                encoded = done[id(element)] = _element(element, encodings)
            body.append(encoded)
        value = b"".join(body)
        items.append(_ITEM + struct.pack("<I", len(value)) + value)
    value = b"".join(items)
    tag = sequence.tag
    return struct.pack("<HH2sHI", tag.group, tag.element, b"SQ", 0, len(value)) + value
