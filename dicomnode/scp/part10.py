"""The DICOM File Format wrapper (PS3.10 Section 7) of a data set received by C-STORE.

A received instance is stored as preamble, ``DICM``, File Meta Information and the data set
bytes exactly as they came off the wire. The File Meta Information is a handful of
elements in Explicit VR Little Endian; it is encoded here directly (byte for byte what
pynetdicom's ``Event.encoded_dataset()`` writes) instead of through pydicom data sets,
whose cost is paid for every instance (figures in ``docs/receive.md``).
"""

from __future__ import annotations

import struct

from pynetdicom import PYNETDICOM_IMPLEMENTATION_UID, PYNETDICOM_IMPLEMENTATION_VERSION

from dicomnode.scp.uids import encode_uid

PREAMBLE = b"\0" * 128 + b"DICM"
"""The 128-byte preamble (zeros) and the ``DICM`` prefix."""


def _short(group: int, element: int, vr: bytes, value: bytes) -> bytes:
    """One element with a 2-byte length field (UI, SH, UL)."""
    return struct.pack("<HH2sH", group, element, vr, len(value)) + value


def file_meta(sop_class_uid: str, sop_instance_uid: str, transfer_syntax_uid: str) -> bytes:
    """Encode the File Meta Information group (0002) of a received instance.

    Parameters
    ----------
    sop_class_uid, sop_instance_uid : str
        Affected SOP Class and Instance UIDs of the C-STORE request (ASCII).
    transfer_syntax_uid : str
        Transfer syntax of the presentation context the data set came in.

    Returns
    -------
    bytes
        Group length, version 00\\01, Media Storage SOP Class and Instance UIDs, Transfer
        Syntax UID and pynetdicom's Implementation Class UID and Version Name.
    """
    version = PYNETDICOM_IMPLEMENTATION_VERSION.encode("ascii")
    elements = b"".join(
        (
            struct.pack("<HH2s2sI", 0x0002, 0x0001, b"OB", b"\0\0", 2) + b"\0\1",
            _short(0x0002, 0x0002, b"UI", encode_uid(sop_class_uid)),
            _short(0x0002, 0x0003, b"UI", encode_uid(sop_instance_uid)),
            _short(0x0002, 0x0010, b"UI", encode_uid(transfer_syntax_uid)),
            _short(0x0002, 0x0012, b"UI", encode_uid(PYNETDICOM_IMPLEMENTATION_UID)),
            _short(0x0002, 0x0013, b"SH", version + b" " * (len(version) % 2)),
        )
    )
    return _short(0x0002, 0x0000, b"UL", struct.pack("<I", len(elements))) + elements


def part10_file(
    sop_class_uid: str, sop_instance_uid: str, transfer_syntax_uid: str, data_set: bytes
) -> bytes:
    """The complete file: preamble, prefix, :func:`file_meta` and ``data_set`` unchanged."""
    return b"".join(
        (PREAMBLE, file_meta(sop_class_uid, sop_instance_uid, transfer_syntax_uid), data_set)
    )
