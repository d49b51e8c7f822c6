"""Receiving servers sharing one listening socket (dicomnode.scp.server): a new association
goes to an idle server, and one server stopping leaves the others listening."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import RecordingSink, free_port, wait_for
from pynetdicom import AE
from pynetdicom.association import Association
from pynetdicom.sop_class import Verification  # type: ignore[attr-defined]

from dicomnode.scp.config import ScpConfig
from dicomnode.scp.server import (
    ACCEPT_DELAY_MAX_S,
    RunningScp,
    accept_delay_s,
    listening_socket,
    start_scp,
)
from dicomnode.scp.spool import SpoolWriter

pytestmark = pytest.mark.peers


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[tuple[int, list[RunningScp]]]:
    """Two servers (as two receiving processes would be) on one listening socket."""
    config = ScpConfig(port=free_port(), workers=2, accept_any=True)
    sock = listening_socket(config.host, config.port)
    running = [start_scp(config, SpoolWriter(tmp_path / f"spool{i}"), RecordingSink(),
                         shared_socket=sock) for i in range(2)]
    yield config.port, running
    for server in running:
        server.stop(grace_s=1)
    sock.close()


def _associate(port: int) -> Association:
    ae = AE(ae_title="SENDER")
    ae.add_requested_context(Verification)
    assoc = ae.associate("127.0.0.1", port, ae_title="DICOMNODE")
    assert assoc.is_established
    return assoc


def _serving(running: list[RunningScp]) -> list[int]:
    return [len(server.ae.active_associations) for server in running]


def test_a_busy_server_waits_longer_before_accepting():
    assert accept_delay_s(0) == 0.0
    assert 0 < accept_delay_s(1) < accept_delay_s(2) <= accept_delay_s(100) == ACCEPT_DELAY_MAX_S


def test_a_new_association_goes_to_the_idle_server(servers):
    """Which server wins a connection is a race; the busy one's head start of
    ``accept_delay_s(1)`` makes the idle one win nearly always (without it, about half)."""
    port, running = servers
    spread = 0
    for _ in range(20):
        first = _associate(port)
        wait_for(lambda: sum(_serving(running)) == 1)
        second = _associate(port)
        wait_for(lambda: sum(_serving(running)) == 2)
        spread += _serving(running) == [1, 1]
        for assoc in (first, second):
            assoc.release()
        wait_for(lambda: sum(_serving(running)) == 0)
    assert spread >= 16


def test_the_other_server_keeps_listening_when_one_stops(servers):
    port, running = servers
    running.pop(0).stop(grace_s=1)

    for _ in range(3):
        assoc = _associate(port)
        assert assoc.send_c_echo().Status == 0x0000
        assoc.release()


def test_a_taken_port_is_a_clear_error():
    port = free_port()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", port))
        taken.listen()
        with pytest.raises(OSError, match=f"cannot listen on 127.0.0.1:{port}"):
            listening_socket("127.0.0.1", port)
