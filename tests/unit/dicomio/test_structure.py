"""The strict structural walk: real files pass, each malformation fails with its reason."""

from __future__ import annotations

import struct
import warnings
import zlib
from io import BytesIO
from pathlib import Path

import pydicom
import pytest
from pydicom.data import get_testdata_file
from pydicom.filereader import _read_file_meta_info, read_preamble
from pydicom.uid import (
    DeflatedExplicitVRLittleEndian,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    RLELossless,
)

from pipeline.dicomio import GEOMETRY_TAGS, StructureError, check_pixel_data, walk_data_set
from pipeline.dicomio.structure import MAX_DEPTH

EXPLICIT, IMPLICIT = ExplicitVRLittleEndian, ImplicitVRLittleEndian
LONG = {"OB", "OD", "OF", "OL", "OV", "OW", "SQ", "SV", "UC", "UN", "UR", "UT", "UV"}


def element(tag: int, vr: str, value: bytes, *, implicit: bool = False, length: int = -1) -> bytes:
    """One little-endian element (``length`` overrides the encoded length)."""
    size = len(value) if length < 0 else length
    if implicit:
        return struct.pack("<HHL", tag >> 16, tag & 0xFFFF, size) + value
    if vr in LONG:
        return struct.pack("<HH2s2xL", tag >> 16, tag & 0xFFFF, vr.encode(), size) + value
    return struct.pack("<HH2sH", tag >> 16, tag & 0xFFFF, vr.encode(), size) + value


def item(content: bytes, *, undefined: bool = False) -> bytes:
    if undefined:
        return struct.pack("<HHL", 0xFFFE, 0xE000, 0xFFFFFFFF) + content + DELIMITER_ITEM
    return struct.pack("<HHL", 0xFFFE, 0xE000, len(content)) + content


DELIMITER_ITEM = struct.pack("<HHL", 0xFFFE, 0xE00D, 0)
DELIMITER_SEQUENCE = struct.pack("<HHL", 0xFFFE, 0xE0DD, 0)
UID = b"1.2.3.4\0"
BASE = element(0x00080016, "UI", b"1.2.840.10008.5.1.4.1.1.7\0") + element(0x00080018, "UI", UID)
IMAGE = b"".join(
    (
        element(0x00280002, "US", b"\1\0"),
        element(0x00280004, "CS", b"MONOCHROME2 "),
        element(0x00280010, "US", b"\2\0"),
        element(0x00280011, "US", b"\2\0"),
        element(0x00280100, "US", b"\x10\0"),
    )
)
PIXELS = element(0x7FE00010, "OW", bytes(8))


def _walk(data: bytes, syntax: str = EXPLICIT) -> None:
    walk_data_set(data, syntax, GEOMETRY_TAGS)


def _data_set_of(name: str) -> tuple[bytes, str]:
    data = Path(get_testdata_file(name) or name).read_bytes()
    stream = BytesIO(data)
    read_preamble(stream, False)
    meta = _read_file_meta_info(stream)
    return data[stream.tell() :], str(meta.TransferSyntaxUID)


REAL_FILES = sorted(
    path.name
    for path in Path(pydicom.__file__).parent.joinpath("data", "test_files").glob("*.dcm")
    if path.name.startswith(("CT", "MR", "JPEG", "SC_rgb_rle", "liver", "rtdose", "rtplan"))
    and "truncated" not in path.name
)


@pytest.mark.parametrize("name", REAL_FILES)
def test_pydicom_test_files_pass_with_their_pixel_data(name: str) -> None:
    data, syntax = _data_set_of(name)
    layout = walk_data_set(data, syntax, GEOMETRY_TAGS | {0x00080016})
    sop_class = layout.elements[0x00080016].value.rstrip(b"\0 ").decode()
    assert check_pixel_data(layout, sop_class) is not None or "rtplan" in name


@pytest.mark.parametrize("name", ["MR_truncated.dcm", "rtplan_truncated.dcm"])
def test_truncated_test_files_fail(name: str) -> None:
    data, syntax = _data_set_of(name)
    with pytest.raises(StructureError, match="exceeds the data"):
        _walk(data, syntax)


def test_kept_values_and_pixel_data_layout() -> None:
    layout = walk_data_set(BASE + IMAGE + PIXELS, EXPLICIT, frozenset({0x00080018, 0x00280010}))
    assert layout.elements[0x00080018] == ("UI", UID)
    assert layout.elements[0x00280010].value == b"\2\0"
    assert layout.pixel_data is not None and layout.pixel_data.length == 8
    assert not layout.pixel_data.encapsulated


def test_every_cut_inside_an_element_fails_and_every_cut_between_passes() -> None:
    parts = [
        element(0x00080016, "UI", UID),
        element(0x00081032, "SQ", item(element(0x00080100, "SH", b"CODE"))),
        element(0x00280010, "US", b"\2\0"),
        PIXELS,
    ]
    boundaries = {sum(len(part) for part in parts[:end]) for end in range(len(parts) + 1)}
    data = b"".join(parts)
    for cut in range(len(data)):
        if cut in boundaries:
            _walk(data[:cut])
        else:
            with pytest.raises(StructureError):
                _walk(data[:cut])


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (BASE + IMAGE + element(0x7FE00010, "OW", bytes(8), length=0xFFFFFFF0), "exceeds"),
        (BASE + element(0x00280010, "FD", b"\2\0"), "not a multiple of 8 for VR FD"),
        (BASE + element(0x00280010, "US", b"\2\0\0"), "not a multiple of 2 for VR US"),
        (element(0x00080018, "UI", UID) + element(0x00080016, "UI", UID), "ascending"),
        (BASE + element(0x00080018, "UI", UID), "ascending"),
        (BASE + element(0x00080020, "XX", b"20260101"), "not a valid VR"),
        (element(0x00020010, "UI", UID) + BASE, "group 0002"),
        (BASE + element(0x00081030, "LO", b"", length=0xFFFF) + bytes(10), "exceeds"),
        (BASE + element(0x00081030, "UT", b"", length=0xFFFFFFFF) + DELIMITER_SEQUENCE, "VR UT"),
        (BASE + DELIMITER_ITEM, "unexpected (FFFE,E00D)"),
        (BASE + b"\0\0\0", "truncated"),
    ],
    ids=[
        "pixel length 0xFFFFFFF0",
        "VR changed to FD",
        "odd US",
        "descending",
        "duplicate",
        "unknown VR",
        "file meta in the data set",
        "length past the end",
        "undefined length text",
        "stray delimiter",
        "trailing bytes",
    ],
)
def test_malformed_explicit_data_sets_fail_with_a_reason(data: bytes, reason: str) -> None:
    with pytest.raises(StructureError, match=reason.replace("(", r"\(").replace(")", r"\)")):
        _walk(data)


def test_implicit_vr_bytes_on_an_explicit_transfer_syntax_fail() -> None:
    implicit = element(0x00080016, "UI", UID, implicit=True) + element(
        0x00080018, "UI", UID, implicit=True
    )
    _walk(implicit, IMPLICIT)
    with pytest.raises(StructureError, match="not a valid VR"):
        _walk(implicit, EXPLICIT)


def _nested(depth: int, *, undefined: bool) -> bytes:
    content = b""
    for _ in range(depth):
        if undefined:
            head = element(0x00400275, "SQ", b"", length=0xFFFFFFFF)
            content = head + item(content, undefined=True) + DELIMITER_SEQUENCE
        else:
            content = element(0x00400275, "SQ", item(content))
    return content


@pytest.mark.parametrize("undefined", [True, False])
def test_sequences_nest_to_the_limit_and_no_deeper(undefined: bool) -> None:
    _walk(BASE + _nested(MAX_DEPTH, undefined=undefined))
    for depth in (MAX_DEPTH + 1, 300, 5000):
        with pytest.raises(StructureError, match="nested deeper"):
            _walk(BASE + _nested(depth, undefined=undefined))


def test_items_and_delimiters_must_be_where_they_belong() -> None:
    good = item(element(0x00080100, "SH", b"CODE"))
    _walk(BASE + element(0x00081032, "SQ", good))
    _walk(BASE + element(0x00081032, "SQ", b"", length=0xFFFFFFFF) + good + DELIMITER_SEQUENCE)
    cases = {
        "where an item was expected": element(0x00081032, "SQ", element(0x00080100, "SH", b"X")),
        "item length": element(0x00081032, "SQ", good[:-2]),
        r"unexpected \(FFFE,E0DD\)": element(0x00081032, "SQ", b"", length=0xFFFFFFFF)
        + item(b"", undefined=True)[:-8]
        + DELIMITER_SEQUENCE,
        "item without an item delimiter": element(0x00081032, "SQ", b"", length=0xFFFFFFFF)
        + item(element(0x00080100, "SH", b"CODE"), undefined=True)[:-8],
        "sequence truncated": element(0x00081032, "SQ", b"", length=0xFFFFFFFF) + good,
        "delimiter with a length": element(0x00081032, "SQ", b"", length=0xFFFFFFFF)
        + good
        + struct.pack("<HHL", 0xFFFE, 0xE0DD, 4),
    }
    for reason, bad in cases.items():
        with pytest.raises(StructureError, match=reason):
            _walk(BASE + bad)


def test_values_are_checked_with_the_vr_pydicom_would_convert_them_with() -> None:
    creator = element(0x00190010, "LO", b"ADAC_IMG", implicit=True)
    odd = element(0x00191011, "", b"\1\0\0", implicit=True)  # private dictionary: US
    base = element(0x00080016, "", UID, implicit=True)
    _walk(base + creator + element(0x00191011, "", b"\1\0", implicit=True), IMPLICIT)
    with pytest.raises(StructureError, match="for VR US"):
        _walk(base + creator + odd, IMPLICIT)
    _walk(base + element(0x00191011, "", b"\1\0\0", implicit=True), IMPLICIT)  # unknown: UN
    with pytest.raises(StructureError, match="for VR US"):  # UN of a known tag: its VR
        _walk(BASE + element(0x00280010, "UN", b"\2\0\0"))


def test_an_undefined_length_un_holds_an_implicit_vr_sequence() -> None:
    content = item(element(0x00080100, "", b"CODE", implicit=True), undefined=True)
    un = element(0x00081032, "UN", b"", length=0xFFFFFFFF) + content + DELIMITER_SEQUENCE
    _walk(BASE + un)
    with pytest.raises(StructureError):
        _walk(BASE + un[:-8])


def _encapsulated(*fragments: bytes, offsets: bytes = b"") -> bytes:
    items = item(offsets) + b"".join(item(f) for f in fragments)
    return element(0x7FE00010, "OB", b"", length=0xFFFFFFFF) + items + DELIMITER_SEQUENCE


def test_encapsulated_pixel_data_only_in_an_encapsulated_syntax() -> None:
    layout = walk_data_set(BASE + IMAGE + _encapsulated(b"ab", b"cd"), RLELossless)
    assert layout.pixel_data is not None
    assert (layout.pixel_data.fragments, layout.pixel_data.length) == (2, 4)
    with pytest.raises(StructureError, match="encapsulated Pixel Data in a native"):
        _walk(BASE + IMAGE + _encapsulated(b"ab"))
    with pytest.raises(StructureError, match="native Pixel Data in an encapsulated"):
        _walk(BASE + IMAGE + PIXELS, RLELossless)
    with pytest.raises(StructureError, match="truncated"):
        _walk(BASE + IMAGE + _encapsulated(b"ab")[:-8], RLELossless)
    undefined_fragment = _encapsulated()[:-8] + item(b"", undefined=True)[:8] + DELIMITER_SEQUENCE
    with pytest.raises(StructureError, match="bad item"):
        _walk(BASE + IMAGE + undefined_fragment, RLELossless)


def _deflate(data: bytes) -> bytes:
    compressor = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    return compressor.compress(data) + compressor.flush()


def test_deflated_data_sets_inflate_completely_and_within_the_cap() -> None:
    data = BASE + IMAGE + PIXELS
    walk_data_set(_deflate(data) + b"\0", DeflatedExplicitVRLittleEndian)
    with pytest.raises(StructureError, match="truncated"):
        walk_data_set(_deflate(data)[:-4], DeflatedExplicitVRLittleEndian)
    with pytest.raises(StructureError, match="corrupt"):
        walk_data_set(b"\xff" * 64, DeflatedExplicitVRLittleEndian)
    bomb = _deflate(BASE + element(0x00081030, "UT", bytes(64 << 20)))  # 64 MiB from ~64 KiB
    with pytest.raises(StructureError, match="inflates beyond"):
        walk_data_set(bomb, DeflatedExplicitVRLittleEndian, max_inflated_bytes=1 << 20)


def test_big_endian_and_unknown_syntaxes() -> None:
    big = struct.pack(">HH2sH", 0x0008, 0x0016, b"UI", 8) + UID
    big += struct.pack(">HH2sH", 0x0028, 0x0010, b"US", 2) + b"\0\2"
    layout = walk_data_set(big, ExplicitVRBigEndian, GEOMETRY_TAGS)
    assert not layout.is_little_endian and layout.elements[0x00280010].value == b"\0\2"
    with pytest.raises(StructureError, match="not a known transfer syntax"):
        walk_data_set(BASE, "1.2.3.4")


def test_the_walk_warns_about_nothing() -> None:
    data, syntax = _data_set_of("CT_small.dcm")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _walk(data, syntax)
