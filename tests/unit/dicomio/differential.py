"""Differential fuzzing of the node's data set reader against pydicom's full read.

Seeds are pydicom's own test files (explicit and implicit VR, big endian, deflate, JPEG
2000 and RLE encapsulated, multi-frame, packed bits, nested and private sequences). A case
applies one to three seeded mutations to a seed's data set: truncation, byte flips, length
field changes, VR changes, deeply nested sequences, the data set re-encoded in the other VR
encoding, swapped or duplicated elements, a Pixel Data length of 0xFFFFFFF0, trailing
garbage, a newline after the Study Instance UID. Each case goes to a *reader* (the node's
:func:`dicomnode.scp.admission.admit`, passed in) and to :func:`pydicom_full_read` of the
Part 10 file the node would spool. A disagreement is an accepted case that pydicom cannot
read completely, or whose UIDs differ from pydicom's. Used by the CI fuzz test and by
``bench/fuzz.py``.
"""

from __future__ import annotations

import random
import struct
import warnings
import zlib
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from io import BytesIO
from pathlib import Path

import pydicom
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset
from pydicom.filereader import _read_file_meta_info, read_preamble
from pydicom.pixels.utils import get_expected_length
from pydicom.uid import UID

from dicomnode.scp.admission import RefusalError, admit
from dicomnode.scp.header import read_header
from dicomnode.scp.part10 import part10_file

SEED_FILES = (
    "CT_small.dcm",
    "MR_small.dcm",
    "MR_small_implicit.dcm",
    "MR_small_bigendian.dcm",
    "image_dfl.dcm",
    "JPEG2000.dcm",
    "MR_small_RLE.dcm",
    "SC_rgb_rle_2frame.dcm",
    "SC_rgb_small_odd.dcm",
    "liver_1frame.dcm",
    "rtdose.dcm",
    "rtplan.dcm",
    "test-SR.dcm",
)
"""pydicom test files used as seeds (all shipped with pydicom, no download)."""

UID_KEYWORDS = ("SOPClassUID", "SOPInstanceUID", "StudyInstanceUID", "SeriesInstanceUID")

_VRS = [b"FD", b"FL", b"US", b"UL", b"AT", b"SQ", b"UN", b"OB", b"OW", b"LO", b"UI", b"XX", b"\0\0"]
_LONG_VRS = {b"OB", b"OD", b"OF", b"OL", b"OV", b"OW", b"SQ", b"SV", b"UC", b"UN", b"UR", b"UT"}
_NESTING = [1, 2, 31, 32, 33, 300]


@dataclass(frozen=True)
class Seed:
    """A seed data set: its name, transfer syntax, SOP UIDs and plain (inflated) bytes."""

    name: str
    transfer_syntax_uid: str
    sop_class_uid: str
    sop_instance_uid: str
    plain: bytes
    implicit: bool
    little_endian: bool
    deflated: bool


@dataclass(frozen=True)
class Case:
    """One mutated data set, ready for the reader."""

    seed: Seed
    mutations: tuple[str, ...]
    data_set: bytes

    def part10(self) -> bytes:
        """The Part 10 file the node would spool for it."""
        return part10_file(
            self.seed.sop_class_uid,
            self.seed.sop_instance_uid,
            self.seed.transfer_syntax_uid,
            self.data_set,
        )


@dataclass
class Tally:
    """Counts per outcome and the disagreements found."""

    cases: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    disagreements: list[str] = field(default_factory=list)


def load_seed(name: str) -> Seed:
    """Read a pydicom test file into a :class:`Seed` (deflated data sets inflated)."""
    data = Path(get_testdata_file(name) or name).read_bytes()
    stream = BytesIO(data)
    read_preamble(stream, False)
    meta = _read_file_meta_info(stream)
    syntax = UID(meta.TransferSyntaxUID)
    plain = data[stream.tell() :]
    if syntax.is_deflated:
        plain = zlib.decompressobj(-zlib.MAX_WBITS).decompress(plain)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        dataset = pydicom.dcmread(BytesIO(data))
        sop_class_uid, sop_instance_uid = str(dataset.SOPClassUID), str(dataset.SOPInstanceUID)
    return Seed(
        name=name,
        transfer_syntax_uid=str(syntax),
        sop_class_uid=sop_class_uid,
        sop_instance_uid=sop_instance_uid,
        plain=plain,
        implicit=syntax.is_implicit_VR,
        little_endian=syntax.is_little_endian,
        deflated=syntax.is_deflated,
    )


def deflate(data: bytes) -> bytes:
    """``data`` as a raw deflate stream (PS3.5 A.5)."""
    compressor = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    return compressor.compress(data) + compressor.flush()


def _headers(seed: Seed, data: bytes) -> list[tuple[int, int, int]]:
    """``(offset, tag, header size)`` of the top-level elements (as pydicom finds them)."""
    found = []
    generator = pydicom.filereader.data_element_generator(
        BytesIO(data), seed.implicit, seed.little_endian
    )
    try:
        for element in generator:
            size = 8
            if not seed.implicit and (element.VR or "").encode() in _LONG_VRS:
                size = 12
            offset = element.value_tell - size
            if offset >= 0:
                found.append((offset, int(element.tag), size))
    except Exception:  # a mutated data set: the offsets found so far
        pass
    return found


def _reencoded(seed: Seed) -> bytes:
    """The seed's data set written in the other VR encoding (same byte order)."""
    whole = part10_file(
        seed.sop_class_uid,
        seed.sop_instance_uid,
        seed.transfer_syntax_uid,
        deflate(seed.plain) if seed.deflated else seed.plain,
    )
    buffer = pydicom.filebase.DicomBytesIO()
    buffer.is_little_endian = seed.little_endian
    buffer.is_implicit_VR = not seed.implicit
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pydicom.filewriter.write_dataset(buffer, pydicom.dcmread(BytesIO(whole)))
    return buffer.getvalue()


def _nested(depth: int, little: bool, implicit: bool, defined: bool) -> bytes:
    """(0040,0275) Request Attributes Sequence holding itself ``depth`` levels deep."""
    order = "<" if little else ">"
    content = b""
    for _ in range(depth):
        if defined:
            item = struct.pack(order + "HHL", 0xFFFE, 0xE000, len(content)) + content
            length = len(item)
            tail = b""
        else:
            item = struct.pack(order + "HHL", 0xFFFE, 0xE000, 0xFFFFFFFF) + content
            item += struct.pack(order + "HHL", 0xFFFE, 0xE00D, 0)
            length = 0xFFFFFFFF
            tail = struct.pack(order + "HHL", 0xFFFE, 0xE0DD, 0)
        if implicit:
            head = struct.pack(order + "HHL", 0x0040, 0x0275, length)
        else:
            head = struct.pack(order + "HH2s2xL", 0x0040, 0x0275, b"SQ", length)
        content = head + item + tail
    return content


def _value_length(data: bytes, offset: int, size: int, implicit: bool, order: str) -> int:
    """The value length in the element header at ``offset`` (``size`` bytes long)."""
    if implicit or size == 12:
        return int(struct.unpack_from(order + "L", data, offset + size - 4)[0])
    return int(struct.unpack_from(order + "H", data, offset + 6)[0])


class Mutator:
    """Seeded mutations of a seed's data set."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self._reencoded: dict[str, bytes] = {}

    def mutate(self, seed: Seed, data: bytes) -> tuple[str, bytes]:
        """One mutation of ``data`` (the plain data set of ``seed``): its name and result."""
        rng = self.rng
        kind = rng.choice(
            [
                "truncate",
                "truncate",
                "flip",
                "flip",
                "length",
                "length",
                "vr",
                "nest",
                "other_vr",
                "swap",
                "duplicate",
                "pixel_length",
                "garbage",
                "uid_newline",
            ]
        )
        headers = _headers(seed, data)
        order = "<" if seed.little_endian else ">"
        if not data:
            kind = "garbage"
        if kind == "truncate":
            cut = rng.choice([rng.randrange(len(data)), *(o for o, _, _ in headers[-3:])])
            if rng.random() < 0.3 and headers:
                offset, _, size = rng.choice(headers)
                cut = offset + rng.randrange(size + 4)
            return kind, data[:cut]
        if kind == "flip":
            mutable = bytearray(data)
            for _ in range(rng.randint(1, 4)):
                if rng.random() < 0.5 and headers:
                    offset, _, size = rng.choice(headers)
                    position = offset + rng.randrange(size)
                else:
                    position = rng.randrange(len(mutable))
                mutable[position] = rng.randrange(256)
            return kind, bytes(mutable)
        if kind in ("length", "pixel_length") and headers:
            candidates = headers
            if kind == "pixel_length":
                candidates = [h for h in headers if h[1] == 0x7FE00010] or headers
            offset, _, size = rng.choice(candidates)
            wide = seed.implicit or size == 12
            at = offset + (4 if seed.implicit else 8 if size == 12 else 6)
            old = _value_length(data, offset, size, seed.implicit, order)
            new = (
                0xFFFFFFF0
                if kind == "pixel_length"
                else rng.choice(
                    [
                        0,
                        old + 1,
                        old - 1,
                        old + 2,
                        old * 2,
                        0xFFFFFFFF,
                        0xFFFFFFF0,
                        rng.randrange(1 << 16),
                    ]
                )
            )
            new &= 0xFFFFFFFF if wide else 0xFFFF
            packed = struct.pack(order + ("L" if wide else "H"), new)
            return kind, data[:at] + packed + data[at + len(packed) :]
        if kind == "vr" and headers and not seed.implicit:
            offset, _, _ = rng.choice(headers)
            return kind, data[: offset + 4] + rng.choice(_VRS) + data[offset + 6 :]
        if kind == "nest":
            depth = rng.choice(_NESTING)
            block = _nested(depth, seed.little_endian, seed.implicit, rng.random() < 0.5)
            at = next((o for o, tag, _ in headers if tag > 0x00400275), len(data))
            return f"nest{depth}", data[:at] + block + data[at:]
        if kind == "other_vr":
            if seed.name not in self._reencoded:
                self._reencoded[seed.name] = _reencoded(seed)
            return kind, self._reencoded[seed.name]
        if kind in ("swap", "duplicate") and len(headers) > 3:
            index = rng.randrange(len(headers) - 2)
            (a, _, _), (b, _, _), (c, _, _) = headers[index : index + 3]
            first, second = data[a:b], data[b:c]
            moved = second + first if kind == "swap" else first + first + second
            return kind, data[:a] + moved + data[c:]
        if kind == "uid_newline":
            for offset, tag, size in headers:
                end = offset + size + _value_length(data, offset, size, seed.implicit, order)
                if tag == 0x0020000D and data[end - 1 : end] == b"\0":
                    return kind, data[: end - 1] + b"\n" + data[end:]
        return "garbage", data + bytes(rng.randrange(256) for _ in range(rng.randint(1, 12)))

    def case(self, seed: Seed) -> Case:
        """A case: one to three mutations of ``seed`` (deflated again where it was)."""
        data, names = seed.plain, []
        for _ in range(self.rng.choice([1, 1, 1, 2, 3])):
            name, data = self.mutate(seed, data)
            names.append(name)
        if seed.deflated:
            data = deflate(data)
            if self.rng.random() < 0.2:
                data = data[: self.rng.randrange(len(data))]
                names.append("truncate_deflated")
        return Case(seed, tuple(names), data)


def _convert_all(dataset: Dataset) -> None:
    """Convert every element's value, recursively through sequences (pydicom's full read)."""
    for element in dataset:
        if element.VR == "SQ":
            for item in element.value:
                _convert_all(item)


def pydicom_full_read(part10: bytes) -> dict[str, str] | str:
    """Read a Part 10 file completely with pydicom: ``dcmread``, every value converted,
    and native Pixel Data at least as long as its geometry needs.

    Returns
    -------
    dict of str to str, or str
        The SOP, Study and Series UIDs when all of it reads; else why not.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            dataset = pydicom.dcmread(BytesIO(part10))
            _convert_all(dataset)
            syntax = dataset.file_meta.TransferSyntaxUID
            if "PixelData" in dataset and not syntax.is_encapsulated:
                needed = get_expected_length(dataset)
                if len(dataset.PixelData) < needed:
                    return "native Pixel Data shorter than its geometry"
            return {k: str(dataset.get(k, "")) for k in UID_KEYWORDS}
    except Exception as exc:  # pydicom cannot read it (RecursionError included)
        return type(exc).__name__


Reader = Callable[[bytes, str, str, str], tuple[str, dict[str, str] | None]]
"""The reader under test: ``(data set, transfer syntax, SOP class, SOP instance)`` to
``(outcome, UIDs)`` with outcome "accepted" (UIDs read) or a refusal name (``None``)."""


def node_reader(
    data_set: bytes, transfer_syntax_uid: str, sop_class_uid: str, sop_instance_uid: str
) -> tuple[str, dict[str, str] | None]:
    """The node's receive decision (:func:`admit`); an accepted data set's spooled file
    must read the same at restart (:func:`read_header`), else "readers disagree"."""
    try:
        header = admit(data_set, transfer_syntax_uid, sop_class_uid, sop_instance_uid)
    except RefusalError as exc:
        return f"refused 0x{int(exc.status):04X}", None
    whole = part10_file(sop_class_uid, sop_instance_uid, transfer_syntax_uid, data_set)
    if read_header(whole) != header:
        return "readers disagree", None
    uids = (
        header.sop_class_uid,
        header.sop_instance_uid,
        header.study_instance_uid,
        header.series_instance_uid,
    )
    return "accepted", dict(zip(UID_KEYWORDS, uids, strict=True))


def cases(seed_count: int, count: int, seed: int) -> Iterator[Case]:
    """``count`` cases from the first ``seed_count`` seeds, reproducible from ``seed``."""
    seeds = [load_seed(name) for name in SEED_FILES[:seed_count]]
    mutator = Mutator(random.Random(seed))
    for index in range(count):
        yield mutator.case(seeds[index % len(seeds)])


def run(reader: Reader, count: int, seed: int, *, read_refused: bool = False) -> Tally:
    """Run ``count`` cases through ``reader`` and pydicom; tally outcomes and
    disagreements (exceptions from ``reader`` propagate).

    With ``read_refused``, refused cases are read by pydicom too and counted apart when
    pydicom reads them (where the node is stricter; slower).
    """
    tally = Tally()
    for case in cases(len(SEED_FILES), count, seed):
        outcome, uids = reader(
            case.data_set,
            case.seed.transfer_syntax_uid,
            case.seed.sop_class_uid,
            case.seed.sop_instance_uid,
        )
        tally.cases += 1
        label = f"{case.seed.name} {'+'.join(case.mutations)}"
        if outcome == "readers disagree":
            tally.outcomes[outcome] += 1
            tally.disagreements.append(f"{label}: readers disagree")
            continue
        if outcome != "accepted":
            if read_refused and not isinstance(pydicom_full_read(case.part10()), str):
                outcome += ", pydicom reads"
            tally.outcomes[outcome] += 1
            continue
        reference = pydicom_full_read(case.part10())
        if isinstance(reference, str):
            tally.outcomes["accepted, pydicom cannot read"] += 1
            tally.disagreements.append(f"{label}: accepted, pydicom: {reference}")
        elif uids != reference:
            tally.outcomes["accepted, UIDs differ"] += 1
            tally.disagreements.append(f"{label}: UIDs differ")
        else:
            tally.outcomes["accepted"] += 1
    return tally
