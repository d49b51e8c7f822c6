"""The node on pynetdicom's own receive path (an unsupported pynetdicom version): it
receives, logs one warning, and frees the connection slot of every closed connection.

The storage and malformed-data suites run on this path too (conftest ``receive_path``);
here are what only this path does differently: its connection slots are released on
pynetdicom's EVT_CONN_CLOSE instead of by the fork's socket.
"""

from __future__ import annotations

import logging
import socket
import struct
from collections.abc import Iterator
from pathlib import Path

import pynetdicom
import pytest
from conftest import UNSUPPORTED_PYNETDICOM, RecordingSink, echoscu, free_port, storescu, wait_for
from hostile_peer import connect

from dicomnode.scp.config import ScpConfig
from dicomnode.scp.events import ConnectionRefused, InstanceStored
from dicomnode.scp.server import start_scp
from dicomnode.scp.slots import ADDRESS_BUCKETS, AddressSlots
from dicomnode.scp.spool import SpoolWriter

pytestmark = pytest.mark.peers

SLOTS_PER_ADDRESS = 2


class Unforked:
    """An in-process SCP on pynetdicom's own path, with its connection slots."""

    def __init__(self, tmp_path: Path) -> None:
        config = ScpConfig(port=free_port(), max_connections_per_address=SLOTS_PER_ADDRESS)
        self.slots = AddressSlots([0] * ADDRESS_BUCKETS, 0, SLOTS_PER_ADDRESS)
        self.sink = RecordingSink()
        spool = SpoolWriter(tmp_path / "spool")
        self.running = start_scp(config, spool, self.sink, slots=self.slots)
        self.port = self.running.port

    def wait_for_free_slots(self) -> None:
        """Until no connection from 127.0.0.1 holds a slot."""
        wait_for(lambda: self.slots.held("127.0.0.1") == 0)


@pytest.fixture
def unforked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Unforked]:
    monkeypatch.setattr(pynetdicom, "__version__", UNSUPPORTED_PYNETDICOM)
    node = Unforked(tmp_path)
    yield node
    node.running.stop(grace_s=1)


def test_every_kind_of_closed_connection_frees_its_slot(
    unforked: Unforked, ct_folder: Path
) -> None:
    assert echoscu(unforked.port) == 0  # a released association
    unforked.wait_for_free_slots()
    with connect(unforked.port):  # closed before a byte was sent
        pass
    unforked.wait_for_free_slots()
    with connect(unforked.port) as partial:  # part of an A-ASSOCIATE-RQ, then closed
        partial.sendall(struct.pack(">BBL", 0x01, 0, 1000) + b"\0" * 10)
        partial.shutdown(socket.SHUT_WR)
        partial.settimeout(5.0)
        while partial.recv(4096):
            pass
    unforked.wait_for_free_slots()
    rejected = storescu(unforked.port, ct_folder, aet="INTRUDER")  # A-ASSOCIATE-RJ
    assert rejected.returncode != 0
    unforked.wait_for_free_slots()
    result = storescu(unforked.port, ct_folder)
    assert result.returncode == 0, result.stderr
    assert len(unforked.sink.of(InstanceStored)) == 6
    unforked.wait_for_free_slots()


def test_a_slot_is_held_while_its_connection_is_open(unforked: Unforked) -> None:
    held = [connect(unforked.port) for _ in range(SLOTS_PER_ADDRESS)]
    try:
        wait_for(lambda: unforked.slots.held("127.0.0.1") == SLOTS_PER_ADDRESS)
        with connect(unforked.port) as refused:
            refused.settimeout(5.0)
            assert refused.recv(4096) == b""
        [refusal] = unforked.sink.of(ConnectionRefused)
        assert refusal.reason == "address_limit"
    finally:
        for sock in held:
            sock.close()
    unforked.wait_for_free_slots()
    assert echoscu(unforked.port) == 0


def test_the_fallback_is_logged_once_per_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    version = f"{UNSUPPORTED_PYNETDICOM}.once"  # a version no other test started with
    monkeypatch.setattr(pynetdicom, "__version__", version)
    with caplog.at_level(logging.WARNING, logger="dicomnode.scp._fork"):
        for index in range(2):
            config = ScpConfig(port=free_port())
            running = start_scp(config, SpoolWriter(tmp_path / f"spool{index}"), RecordingSink())
            assert echoscu(running.port) == 0
            running.stop(grace_s=1)
    warnings = [r for r in caplog.records if r.name == "dicomnode.scp._fork"]
    assert len(warnings) == 1 and version in warnings[0].getMessage()
