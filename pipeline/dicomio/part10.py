"""A Part 10 file read strictly: its File Meta Information, then its data set walked to the
last byte with the Pixel Data checked (the same checks as a received data set).

The node's restart reconciliation (:func:`dicomnode.scp.header.read_header`) and the
pipeline's header reading (:func:`pipeline.select.headers.read_headers`) both start here,
so a file the node would refuse at receive is unreadable to the pipeline for the same
reason, and the reverse.
"""

from __future__ import annotations

import dataclasses
import mmap
import struct
import zlib
from dataclasses import dataclass
from io import BytesIO
from typing import BinaryIO, cast

from pydicom.errors import BytesLengthException, InvalidDicomError
from pydicom.filereader import _read_file_meta_info, read_preamble

from pipeline.dicomio.pixels import GEOMETRY_TAGS, check_pixel_data
from pipeline.dicomio.structure import DataSetLayout, walk_data_set

SOP_CLASS_UID = 0x00080016

_META_ERRORS = (
    InvalidDicomError,
    BytesLengthException,
    ValueError,
    TypeError,
    LookupError,
    EOFError,
    OSError,
    NotImplementedError,
    struct.error,
    zlib.error,
)
"""What pydicom raises on File Meta Information it cannot parse."""


class Part10Error(ValueError):
    """The bytes are not a Part 10 file with a File Meta Information we can use."""


@dataclass(frozen=True)
class Part10:
    """The File Meta Information of a Part 10 file and where its data set starts.

    Parameters
    ----------
    transfer_syntax_uid : str
        Transfer Syntax UID of the file meta (never empty).
    media_storage_sop_class_uid : str
        Media Storage SOP Class UID of the file meta ('' where absent).
    data_set_offset : int
        Offset of the data set in the file, in bytes.
    """

    transfer_syntax_uid: str
    media_storage_sop_class_uid: str
    data_set_offset: int


def split_part10(data: bytes | mmap.mmap) -> Part10:
    """Read the preamble and File Meta Information of a Part 10 file.

    Parameters
    ----------
    data : bytes or mmap.mmap
        The file's bytes, or a memory map of the file (read in place, not copied).

    Raises
    ------
    Part10Error
        No DICM prefix, unreadable File Meta Information, or no Transfer Syntax UID.
    """
    # a map reads like a binary file (pydicom never uses what seek returns)
    stream = BytesIO(data) if isinstance(data, bytes) else cast(BinaryIO, data)
    stream.seek(0)
    try:
        read_preamble(stream, False)
        meta = _read_file_meta_info(stream)
        transfer_syntax = str(meta.get("TransferSyntaxUID", "") or "")
        media_sop_class = str(meta.get("MediaStorageSOPClassUID", "") or "")
    except _META_ERRORS as exc:
        raise Part10Error(f"file meta cannot be parsed: {type(exc).__name__}") from exc
    if not transfer_syntax:
        raise Part10Error("file meta has no Transfer Syntax UID")
    return Part10(transfer_syntax, media_sop_class, stream.tell())


def check_part10(data: bytes | mmap.mmap) -> DataSetLayout:
    """Check a whole Part 10 file as the node checks a received instance.

    Parameters
    ----------
    data : bytes or mmap.mmap
        The file's bytes, or a memory map of the file.

    Returns
    -------
    DataSetLayout
        The walked data set (SOP Class UID and the image geometry kept), with the offset
        of the data set in ``data``.

    Raises
    ------
    Part10Error
        See :func:`split_part10`.
    StructureError
        The data set does not parse to its end in the file meta's transfer syntax.
    PixelDataError
        Pixel Data missing for an image SOP class or not fitting the geometry.
    """
    part10 = split_part10(data)
    # views, released even on an error, so that a memory map can be closed after it
    with memoryview(data) as view, view[part10.data_set_offset :] as data_set:
        layout = walk_data_set(
            data_set, part10.transfer_syntax_uid, frozenset({SOP_CLASS_UID, *GEOMETRY_TAGS})
        )
    element = layout.elements.get(SOP_CLASS_UID)
    sop_class = element.value.rstrip(b"\0 ").decode("ascii", "replace") if element else ""
    check_pixel_data(layout, sop_class or part10.media_storage_sop_class_uid)
    return dataclasses.replace(layout, data_set_offset=part10.data_set_offset)
