"""Raw bytes a hostile or broken DICOM peer sends: hand-made PDUs (PS3.8 Section 9.3)."""

from __future__ import annotations

import socket
import struct

A_ASSOCIATE_AC = 0x02
A_RELEASE_RQ = 0x05
A_RELEASE_RP = 0x06
A_ABORT = 0x07
VERIFICATION = "1.2.840.10008.1.1"
IMPLICIT_VR_LITTLE_ENDIAN = "1.2.840.10008.1.2"


def _item(item_type: int, body: bytes) -> bytes:
    return struct.pack(">BBH", item_type, 0, len(body)) + body


def associate_rq(
    contexts: list[tuple[int, str, list[str]]],
    calling_aet: str = "DEMOSENDER",
    called_aet: str = "DICOMNODE",
) -> bytes:
    """An A-ASSOCIATE-RQ PDU with the given presentation contexts
    ``(context ID, abstract syntax, transfer syntaxes)``, encoded as written (even IDs and
    empty transfer syntax lists included)."""
    body = struct.pack(">HH", 1, 0) + called_aet.ljust(16).encode() + calling_aet.ljust(16).encode()
    body += b"\0" * 32 + _item(0x10, b"1.2.840.10008.3.1.1.1")
    for context_id, abstract_syntax, transfer_syntaxes in contexts:
        sub_items = _item(0x30, abstract_syntax.encode())
        sub_items += b"".join(_item(0x40, syntax.encode()) for syntax in transfer_syntaxes)
        body += _item(0x20, struct.pack(">BBBB", context_id, 0, 0, 0) + sub_items)
    body += _item(0x50, _item(0x51, struct.pack(">I", 16384)))
    return struct.pack(">BBI", 0x01, 0, len(body)) + body


def a_release_rp() -> bytes:
    """An A-RELEASE-RP PDU (PS3.8 Section 9.3.7)."""
    return struct.pack(">BBI", A_RELEASE_RP, 0, 4) + b"\0" * 4


def pdu_header(pdu_type: int, claimed_length: int) -> bytes:
    """The 6-byte header of a PDU claiming ``claimed_length`` bytes of body."""
    return struct.pack(">BBI", pdu_type, 0, claimed_length)


def connect(port: int, source: str = "127.0.0.1") -> socket.socket:
    """A TCP connection to the node on loopback from the address ``source`` (any
    127.0.0.0/8 address works on Linux, so tests can play several peers)."""
    sock = socket.socket()
    sock.bind((source, 0))
    sock.connect(("127.0.0.1", port))
    return sock


def read_until_closed(sock: socket.socket, timeout_s: float) -> bytes:
    """Everything the node sends until it closes the connection; raises ``TimeoutError``
    if it is still open after ``timeout_s`` seconds."""
    sock.settimeout(timeout_s)
    received = b""
    while chunk := sock.recv(4096):
        received += chunk
    return received


def rss_bytes(pid: int | str = "self") -> int:
    """Resident set size of a process, in bytes (Linux /proc)."""
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS")


def read_pdu(sock: socket.socket, timeout_s: float) -> tuple[int, bytes]:
    """The next PDU the node sends, as ``(PDU type, body)``; raises ``TimeoutError`` if it
    has not arrived whole after ``timeout_s`` seconds, ``ConnectionError`` if the node
    closed the connection first."""
    sock.settimeout(timeout_s)
    header = _receive(sock, 6)
    pdu_type, _, length = struct.unpack(">BBI", header)
    return pdu_type, _receive(sock, length)


def _receive(sock: socket.socket, count: int) -> bytes:
    data = b""
    while len(data) < count:
        chunk = sock.recv(count - len(data))
        if not chunk:
            raise ConnectionError(f"closed after {len(data)} of {count} bytes")
        data += chunk
    return data
