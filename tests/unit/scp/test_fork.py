"""The version guard of the pynetdicom fork (dicomnode.scp._fork): the fork for the
versions it follows, pynetdicom's own path and one warning for any other."""

from __future__ import annotations

import logging
import tomllib
import uuid
from pathlib import Path

import pynetdicom
import pytest
from pynetdicom.transport import RequestHandler

from dicomnode.scp._assoc_reactor import EventDrivenRequestHandler, PynetdicomDimseRequestHandler
from dicomnode.scp._fork import SUPPORTED_PYNETDICOM_VERSIONS, receive_path

REPO_ROOT = Path(__file__).resolve().parents[3]


def test_the_pinned_pynetdicom_is_one_the_fork_follows() -> None:
    dependencies = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"][
        "dependencies"
    ]
    [pin] = [d for d in dependencies if d.startswith("pynetdicom")]
    assert pin.startswith("pynetdicom==")
    assert pin.removeprefix("pynetdicom==") in SUPPORTED_PYNETDICOM_VERSIONS


@pytest.mark.parametrize(
    ("direct_store", "handler"),
    [(True, EventDrivenRequestHandler), (False, PynetdicomDimseRequestHandler)],
)
def test_a_supported_version_receives_through_the_fork(
    direct_store: bool, handler: type[RequestHandler], caplog: pytest.LogCaptureFixture
) -> None:
    path = receive_path(direct_store, min(SUPPORTED_PYNETDICOM_VERSIONS))
    assert path.request_handler is handler
    assert path.forked and path.direct_store == direct_store
    assert caplog.records == []


def test_the_installed_version_is_read_when_none_is_given(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(pynetdicom, "__version__", f"0.0.0+{uuid.uuid4().hex}")
    assert receive_path(True).request_handler is RequestHandler
    assert len(caplog.records) == 1


def test_an_unknown_version_falls_back_with_one_warning(caplog: pytest.LogCaptureFixture) -> None:
    version = f"9.9.9+{uuid.uuid4().hex}"  # unique: one warning per process and version
    with caplog.at_level(logging.WARNING):
        paths = [receive_path(direct_store, version) for direct_store in (True, False, True)]

    for path in paths:
        assert path.request_handler is RequestHandler  # pynetdicom's own reactors and DIMSE
        assert not path.forked and not path.direct_store
    [warning] = caplog.records
    assert warning.levelno == logging.WARNING and warning.name == "dicomnode.scp._fork"
    assert version in warning.getMessage() and "docs/receive.md" in warning.getMessage()
