"""``dicomnode echo`` and ``dicomnode send`` against DCMTK storescp on loopback."""

from __future__ import annotations

import socket

import pytest
from pydicom import dcmread
from typer.testing import CliRunner

from dicomnode.cli import app

pytestmark = pytest.mark.peers
runner = CliRunner()


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_echo_exit_codes(storescp):
    ok = runner.invoke(app, ["echo", "127.0.0.1", str(storescp.port), "--aec", storescp.aet])
    assert ok.exit_code == 0, ok.output
    assert "success" in ok.output and "0x0000" in ok.output

    down = runner.invoke(app, ["echo", "127.0.0.1", str(closed_port()), "--timeout", "2"])
    assert down.exit_code == 1
    assert "transient" in down.output


def test_send_folder(storescp, ct_files, tmp_path):
    (ct_files[0].parent / "notes.txt").write_text("not DICOM")

    result = runner.invoke(
        app,
        [
            "send",
            str(ct_files[0].parent),
            "127.0.0.1",
            str(storescp.port),
            "--aet",
            "SENDER",
            "--aec",
            storescp.aet,
        ],
    )

    assert result.exit_code == 0, result.output
    assert f"{len(ct_files)} instances" in result.output
    received = {
        str(dcmread(p, stop_before_pixels=True).SOPInstanceUID) for p in storescp.folder.iterdir()
    }
    assert received == {str(dcmread(p, stop_before_pixels=True).SOPInstanceUID) for p in ct_files}


def test_send_failures_and_empty_folder(ct_files, tmp_path):
    failed = runner.invoke(
        app, ["send", str(ct_files[0].parent), "127.0.0.1", str(closed_port()), "--timeout", "2"]
    )
    assert failed.exit_code == 1
    assert "transient" in failed.output

    empty = tmp_path / "empty"
    empty.mkdir()
    assert runner.invoke(app, ["send", str(empty), "127.0.0.1", "104"]).exit_code == 2
