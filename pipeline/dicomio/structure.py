"""A strict walk over every element of an encoded data set (PS3.5 Chapter 7).

:func:`walk_data_set` reads a data set (without File Meta Information) in its transfer
syntax to the last byte and raises :class:`StructureError` unless all of it holds:

- every element header and value lies within the bytes (and within its item or sequence);
  nothing is left over at the end;
- tags are strictly ascending within the data set and within each item; no group
  0000-0007 elements (command or File Meta Information elements);
- an explicit VR is one of PS3.5 Table 6.2-1 (implicit-VR bytes on an explicit-VR transfer
  syntax fail here);
- binary VRs of fixed size (AT, FD, FL, OD, OF, OL, OV, OW, SL, SS, SV, UL, US, UV) have a
  length that is a multiple of that size. Where the VR is not encoded (implicit VR, or UN
  replaced by the dictionary's VR) it is looked up as pydicom does when it converts the
  value, private dictionary included;
- undefined length only for sequences, items, UN holding a sequence and encapsulated Pixel
  Data; items and delimiters where they belong, with zero-length delimiters; sequences
  nested at most :data:`MAX_DEPTH` deep (never a ``RecursionError``);
- Pixel Data (7FE0,0010) encapsulated exactly when the transfer syntax is: items of defined
  length up to the sequence delimiter, the first one the Basic Offset Table;
- a deflated data set inflates completely (its stream ends), to at most
  ``max_inflated_bytes``.

It also returns the raw values of the top-level elements asked for, and where the
top-level Pixel Data lies, so callers convert only the few values they need. The walk uses
``struct`` on the bytes and builds no pydicom data set (about four times cheaper than
pydicom's partial header read; figures in ``docs/receive.md``).
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import NamedTuple

from pydicom.datadict import dictionary_VR, private_dictionary_VR
from pydicom.uid import UID

MAX_DEPTH = 32
"""Deepest nesting of sequences accepted (levels)."""

DEFAULT_MAX_INFLATED_BYTES = 1 << 30
"""Largest inflated size of a deflated data set accepted by default (bytes, 1 GiB)."""

UNDEFINED_LENGTH = 0xFFFFFFFF
ITEM = 0xFFFEE000
ITEM_DELIMITER = 0xFFFEE00D
SEQUENCE_DELIMITER = 0xFFFEE0DD
PIXEL_DATA = 0x7FE00010
PIXEL_DATA_TAGS = frozenset({0x7FE00008, 0x7FE00009, PIXEL_DATA})
"""Float Pixel Data, Double Float Pixel Data and Pixel Data."""

_LONG_VRS = frozenset(
    ["OB", "OD", "OF", "OL", "OV", "OW", "SQ", "SV", "UC", "UN", "UR", "UT", "UV"]
)
"""VRs encoded with two reserved bytes and a 4-byte length (PS3.5 Table 7.1-1)."""

_VR_NAMES = {
    name.encode("ascii"): name
    for name in [
        *["AE", "AS", "AT", "CS", "DA", "DS", "DT", "FD", "FL", "IS", "LO", "LT", "PN"],
        *["SH", "SL", "SS", "ST", "TM", "UI", "UL", "US", *_LONG_VRS],
    ]
}
"""Every VR of PS3.5 Table 6.2-1, by its encoding."""


_VALUE_SIZES = {
    "AT": 4,
    "FD": 8,
    "FL": 4,
    "OD": 8,
    "OF": 4,
    "OL": 4,
    "OV": 8,
    "OW": 2,
    "SL": 4,
    "SS": 2,
    "SV": 8,
    "UL": 4,
    "US": 2,
    "UV": 8,
    "US or SS": 2,
    "US or OW": 2,
    "US or SS or OW": 2,
}
"""Size of one value of the binary VRs (bytes); lengths must be multiples of it."""


class StructureError(ValueError):
    """The bytes are not a data set in their transfer syntax.

    The message says what and where (tag, byte offset), never a value.
    """


class Element(NamedTuple):
    """A top-level element kept by the walk.

    Parameters
    ----------
    vr : str
        The VR as encoded (explicit VR) or from the dictionary (implicit VR; "UN" when
        unknown).
    value : bytes
        The value as encoded (length in bytes as on the wire, padding included).
    """

    vr: str
    value: bytes


@dataclass(frozen=True)
class PixelData:
    """Where the top-level Pixel Data lies.

    Parameters
    ----------
    tag : int
        (7FE0,0010) Pixel Data, (7FE0,0008) Float or (7FE0,0009) Double Float Pixel Data.
    encapsulated : bool
        Whether it is encapsulated (undefined length, fragments in items).
    length : int
        Native: the value length (bytes). Encapsulated: the total length of the fragments
        after the Basic Offset Table (bytes).
    offset_table_length : int
        Encapsulated: the length of the Basic Offset Table item (bytes); 0 when native.
    fragments : int
        Encapsulated: the number of fragments after the Basic Offset Table; 0 when native.
    value_offset : int or None
        Native: where the value starts in the bytes walked (bytes; for a deflated transfer
        syntax, in the inflated ones). None when encapsulated.
    """

    tag: int
    encapsulated: bool
    length: int
    offset_table_length: int = 0
    fragments: int = 0
    value_offset: int | None = None


@dataclass(frozen=True)
class DataSetLayout:
    """What a complete walk of a data set found.

    Parameters
    ----------
    transfer_syntax_uid : str
        The transfer syntax it was read in.
    is_little_endian : bool
        Byte order of its binary values.
    encapsulated_syntax : bool
        Whether the transfer syntax encapsulates Pixel Data.
    elements : dict of int to Element
        The top-level elements asked for that are present, by tag.
    pixel_data : PixelData or None
        The top-level Pixel Data (any of :data:`PIXEL_DATA_TAGS`, the last one found).
    size_bytes : int
        Size of the data set walked (bytes; inflated when deflated).
    data_set_offset : int
        Where the data set starts in the bytes it was read from (bytes): after the File
        Meta Information for :func:`~pipeline.dicomio.part10.check_part10`, 0 for a data
        set walked on its own.
    """

    transfer_syntax_uid: str
    is_little_endian: bool
    encapsulated_syntax: bool
    elements: dict[int, Element]
    pixel_data: PixelData | None
    size_bytes: int
    data_set_offset: int = 0


def _tag_text(tag: int) -> str:
    return f"({tag >> 16:04X},{tag & 0xFFFF:04X})"


@lru_cache(maxsize=8192)
def _public_vr(tag: int) -> str | None:
    """The dictionary VR of a public tag (repeating groups included), ``None`` if unknown."""
    try:
        return str(dictionary_VR(tag))
    except KeyError:
        return None


@lru_cache(maxsize=4096)
def _private_vr(tag: int, creator: bytes) -> str:
    """The VR pydicom gives a private element: from its private dictionary when its
    creator is known there, else UN (a multi-valued creator is never known)."""
    if b"\\" in creator:
        return "UN"
    try:
        return str(private_dictionary_VR(tag, creator.decode("latin-1").rstrip("\0 ")))
    except KeyError:
        return "UN"


def _implied_vr(tag: int, creators: dict[int, bytes]) -> str:
    """The VR pydicom uses for an element whose VR is not encoded (or is UN)."""
    group, element = tag >> 16, tag & 0xFFFF
    if group & 1:
        if 0x0010 <= element <= 0x00FF:
            return "LO"  # private creator
        creator = creators.get((group << 8) | (element >> 8)) if element & 0xFF00 else None
        return "UN" if creator is None else _private_vr(tag, creator)
    public = _public_vr(tag)
    if public is not None:
        return public
    return "UL" if element == 0 else "UN"


def _un_vr(tag: int, length: int, creators: dict[int, bytes]) -> str:
    """The VR pydicom converts an explicit UN element with: a private element's from the
    private dictionary, a public one's from the dictionary when shorter than 64 KiB."""
    if tag >> 16 & 1:
        return _implied_vr(tag, creators)
    return (_public_vr(tag) or "UN") if length < 0xFFFF else "UN"


Encoded = bytes | memoryview
"""Encoded bytes; a memoryview lets a caller walk part of a file without copying it."""

_Unpackers = tuple[
    Callable[[Encoded, int], tuple[int, int, bytes, int]],
    Callable[[Encoded, int], tuple[int, int, int]],
    Callable[[Encoded, int], tuple[int]],
]

_UNPACKERS: dict[bool, _Unpackers] = {
    little: (
        struct.Struct(order + "HH2sH").unpack_from,
        struct.Struct(order + "HHL").unpack_from,
        struct.Struct(order + "L").unpack_from,
    )
    for little, order in ((True, "<"), (False, ">"))
}
"""Explicit VR element header (short length), implicit VR element or item header, and a
4-byte length, by byte order (little endian: ``True``)."""


class _Walk:
    """One walk over ``data``; raises :class:`StructureError` at the first problem."""

    def __init__(
        self, data: Encoded, little_endian: bool, encapsulated_syntax: bool, keep: frozenset[int]
    ) -> None:
        self.data = data
        self.encapsulated_syntax = encapsulated_syntax
        self.keep = keep
        self.explicit_header, self.implicit_header, self.long_length = _UNPACKERS[little_endian]
        self.elements: dict[int, Element] = {}
        self.pixel_data: PixelData | None = None

    def data_set(self, pos: int, limit: int, implicit: bool, depth: int, item: bool) -> int:
        """Walk the elements of a data set or item from ``pos``.

        Parameters
        ----------
        pos : int
            Offset of its first element (bytes).
        limit : int
            Offset where it must end (defined length) or that it must not pass.
        implicit : bool
            Whether its VRs are implicit.
        depth : int
            Sequence nesting level (0: the data set itself).
        item : bool
            ``True`` for an item of undefined length: it ends with an Item Delimitation
            Item before ``limit``; otherwise it ends exactly at ``limit``.

        Returns
        -------
        int
            The offset after it.
        """
        data, keep, vr_names, long_vrs = self.data, self.keep, _VR_NAMES, _LONG_VRS
        implicit_header, explicit_header = self.implicit_header, self.explicit_header
        long_length, value_sizes = self.long_length, _VALUE_SIZES
        top = depth == 0
        last = -1
        creators: dict[int, bytes] = {}
        while pos < limit:
            if pos + 8 > limit:
                raise StructureError(f"element header truncated at byte {pos}")
            if implicit:
                group, element, length = implicit_header(data, pos)
                start = pos + 8
                vr = None
            else:
                group, element, vr_bytes, length = explicit_header(data, pos)
                vr = vr_names.get(vr_bytes)
                start = pos + 8
                if vr in long_vrs:
                    if pos + 12 > limit:
                        raise StructureError(f"element header truncated at byte {pos}")
                    length = long_length(data, pos + 8)[0]
                    start = pos + 12
            tag = group << 16 | element
            if group == 0xFFFE:
                if item and tag == ITEM_DELIMITER:
                    if long_length(data, pos + 4)[0]:
                        raise StructureError(f"item delimiter with a length at byte {pos}")
                    return pos + 8
                raise StructureError(f"unexpected {_tag_text(tag)} at byte {pos}")
            if vr is None and not implicit:
                raise StructureError(
                    f"{_tag_text(tag)}: not a valid VR at byte {pos} "
                    "(implicit VR data in an explicit VR transfer syntax?)"
                )
            if tag <= last:
                raise StructureError(f"{_tag_text(tag)} not in ascending order at byte {pos}")
            last = tag
            if group < 0x0008:
                raise StructureError(f"{_tag_text(tag)}: group {group:04X} in a data set")
            if length == UNDEFINED_LENGTH:
                pos = self._undefined(tag, vr, start, limit, depth)
                if top and tag in keep:
                    self.elements[tag] = Element(vr or _implied_vr(tag, creators), b"")
                continue
            stop = start + length
            if stop > limit:
                raise StructureError(
                    f"{_tag_text(tag)}: value length {length} exceeds the data at byte {pos}"
                )
            items_implicit = implicit or vr == "UN"
            if vr is None:
                vr = _implied_vr(tag, creators)
            elif vr == "UN":
                vr = _un_vr(tag, length, creators)
            size = value_sizes.get(vr)
            if size is not None and length % size:
                raise StructureError(
                    f"{_tag_text(tag)}: length {length} is not a multiple of {size} for VR {vr}"
                )
            if vr == "SQ" and length:
                self.sequence(start, stop, items_implicit, depth, False)
            if group & 1 and 0x0010 <= element <= 0x00FF:
                creators[(group << 8) | element] = bytes(data[start:stop])
            if top:
                if tag in keep:
                    self.elements[tag] = Element(vr, bytes(data[start:stop]))
                if tag in PIXEL_DATA_TAGS:
                    if tag == PIXEL_DATA and self.encapsulated_syntax:
                        raise StructureError("native Pixel Data in an encapsulated transfer syntax")
                    self.pixel_data = PixelData(tag, False, length, value_offset=start)
            pos = stop
        if item:
            raise StructureError(f"item without an item delimiter before byte {limit}")
        return pos

    def _undefined(self, tag: int, vr: str | None, start: int, limit: int, depth: int) -> int:
        """Walk an element of undefined length; returns the offset after it.

        As pydicom reads it: an implicit VR element is a sequence when the public
        dictionary says SQ or does not know the tag; an explicit UN is a sequence whose
        items are in implicit VR (PS3.5 Section 6.2.2).
        """
        implicit = vr is None
        if implicit:
            vr = _public_vr(tag) or "SQ"
        if tag == PIXEL_DATA and vr in ("OB", "OW", "OB or OW"):
            if not self.encapsulated_syntax:
                raise StructureError("encapsulated Pixel Data in a native transfer syntax")
            return self.fragments(start, limit, depth)
        if vr in ("SQ", "UN"):
            return self.sequence(start, limit, implicit or vr == "UN", depth, True)
        raise StructureError(f"{_tag_text(tag)}: undefined length for VR {vr}")

    def sequence(self, pos: int, limit: int, implicit: bool, depth: int, undefined: bool) -> int:
        """Walk the items of a sequence.

        Parameters
        ----------
        pos : int
            Offset of its first item (bytes).
        limit : int
            Offset where it must end (defined length) or that it must not pass.
        implicit : bool
            Whether the items' VRs are implicit.
        depth : int
            Nesting level of the element holding it.
        undefined : bool
            ``True`` for undefined length: it ends with a Sequence Delimitation Item
            before ``limit``; otherwise it ends exactly at ``limit``.

        Returns
        -------
        int
            The offset after it.
        """
        if depth >= MAX_DEPTH:
            raise StructureError(f"sequences nested deeper than {MAX_DEPTH} levels")
        data = self.data
        while True:
            if not undefined and pos == limit:
                return pos
            if pos + 8 > limit:
                raise StructureError(f"sequence truncated at byte {pos}")
            group, element, length = self.implicit_header(data, pos)
            tag = group << 16 | element
            if tag == SEQUENCE_DELIMITER and undefined:
                if length:
                    raise StructureError(f"sequence delimiter with a length at byte {pos}")
                return pos + 8
            if tag != ITEM:
                raise StructureError(f"{_tag_text(tag)} where an item was expected at {pos}")
            pos += 8
            if length == UNDEFINED_LENGTH:
                pos = self.data_set(pos, limit, implicit, depth + 1, True)
            else:
                if pos + length > limit:
                    raise StructureError(f"item length {length} exceeds its sequence at {pos}")
                pos = self.data_set(pos, pos + length, implicit, depth + 1, False)

    def fragments(self, pos: int, limit: int, depth: int) -> int:
        """Walk encapsulated Pixel Data: the Basic Offset Table item, fragment items of
        defined length, the Sequence Delimitation Item; returns the offset after it."""
        data = self.data
        offset_table = -1
        fragments = total = 0
        while True:
            if pos + 8 > limit:
                raise StructureError(f"encapsulated Pixel Data truncated at byte {pos}")
            group, element, length = self.implicit_header(data, pos)
            tag = group << 16 | element
            pos += 8
            if tag == SEQUENCE_DELIMITER:
                if length:
                    raise StructureError(f"sequence delimiter with a length at byte {pos - 8}")
                break
            if tag != ITEM or length == UNDEFINED_LENGTH:
                raise StructureError(f"encapsulated Pixel Data: bad item at byte {pos - 8}")
            if pos + length > limit:
                raise StructureError(f"fragment length {length} exceeds the data at {pos}")
            if offset_table < 0:
                offset_table = length
            else:
                fragments += 1
                total += length
            pos += length
        if offset_table < 0:
            raise StructureError("encapsulated Pixel Data without a Basic Offset Table item")
        if depth == 0:
            self.pixel_data = PixelData(PIXEL_DATA, True, total, offset_table, fragments)
        return pos


@lru_cache(maxsize=64)
def _syntax(transfer_syntax_uid: str) -> tuple[bool, bool, bool, bool] | None:
    """Implicit VR, little endian, deflated, encapsulated; ``None`` if not a transfer
    syntax pydicom knows."""
    syntax = UID(transfer_syntax_uid)
    if not syntax.is_transfer_syntax:
        return None
    return (
        syntax.is_implicit_VR,
        syntax.is_little_endian,
        syntax.is_deflated,
        syntax.is_encapsulated,
    )


def _inflate(data: Encoded, max_bytes: int) -> bytes:
    """The raw deflate stream ``data`` inflated (PS3.5 Section A.5), at most ``max_bytes``.

    Bytes after the end of the stream (a pad byte; some writers leave a gzip trailer) are
    not part of the data set and are ignored, as pydicom and DCMTK do.
    """
    inflater = zlib.decompressobj(-zlib.MAX_WBITS)
    try:
        inflated = inflater.decompress(data, max_bytes + 1)
    except zlib.error as exc:
        raise StructureError("deflated data set is corrupt") from exc
    if len(inflated) > max_bytes:
        raise StructureError(f"deflated data set inflates beyond {max_bytes} bytes")
    if not inflater.eof:
        raise StructureError("deflated data set is truncated")
    return inflated


def walk_data_set(
    data: Encoded,
    transfer_syntax_uid: str,
    keep: frozenset[int] = frozenset(),
    *,
    max_inflated_bytes: int = DEFAULT_MAX_INFLATED_BYTES,
) -> DataSetLayout:
    """Walk every element of an encoded data set; keep the raw values of a few.

    Parameters
    ----------
    data : bytes or memoryview
        The data set as encoded (no preamble, no File Meta Information).
    transfer_syntax_uid : str
        Its transfer syntax (that of the presentation context, or of the file meta).
    keep : frozenset of int
        Tags of top-level elements whose raw values to return (a sequence cannot be kept).
    max_inflated_bytes : int, optional
        Largest inflated size of a deflated data set (bytes).

    Returns
    -------
    DataSetLayout
        The kept elements and the top-level Pixel Data found.

    Raises
    ------
    StructureError
        If the bytes are not one complete data set in that transfer syntax.
    """
    syntax = _syntax(transfer_syntax_uid)
    if syntax is None:
        raise StructureError("not a known transfer syntax")
    implicit, little_endian, deflated, encapsulated = syntax
    if deflated:
        data = _inflate(data, max_inflated_bytes)
    walk = _Walk(data, little_endian, encapsulated, keep)
    walk.data_set(0, len(data), implicit, 0, False)
    return DataSetLayout(
        transfer_syntax_uid=transfer_syntax_uid,
        is_little_endian=little_endian,
        encapsulated_syntax=encapsulated,
        elements=walk.elements,
        pixel_data=walk.pixel_data,
        size_bytes=len(data),
    )
