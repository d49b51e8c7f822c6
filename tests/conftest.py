"""Fixtures for every test: strict DICOM values, a settable clock, the shared test helpers.

Strict DICOM (as highdicom's own tests run): a value that breaks its VR (a DS longer than
16 characters, a UI with letters, a CS in lower case) raises instead of warning. pydicom
checks a value when its element is created, under ``reading_validation_mode`` (the
element's default), and again while encoding, under ``writing_validation_mode``; both are
set to RAISE, so a writer of ours that builds an invalid value fails its tests. A test that
reads or writes invalid data on purpose (malformed input, a sender's mistakes) is marked
``@pytest.mark.lenient_dicom`` and runs with pydicom's default (warn).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydicom import config as pydicom_config

# Appended, not prepended: the node tests import their own folder's conftest by name.
sys.path.append(str(Path(__file__).parent))  # twin_clock, dicom_roundtrip, loopback_peers

from twin_clock import Clock


def _set_validation_mode(mode: int) -> tuple[int, int]:
    """Set pydicom's reading and writing validation modes; return the earlier pair."""
    settings = pydicom_config.settings
    earlier = settings.reading_validation_mode, settings.writing_validation_mode
    settings.reading_validation_mode = settings.writing_validation_mode = mode
    return earlier


@pytest.fixture(autouse=True, scope="session")
def strict_dicom() -> Iterator[None]:
    """Raise on any invalid DICOM value, in tests and in fixtures of every scope."""
    reading, writing = _set_validation_mode(pydicom_config.RAISE)
    yield
    pydicom_config.settings.reading_validation_mode = reading
    pydicom_config.settings.writing_validation_mode = writing


@pytest.fixture(autouse=True)
def lenient_dicom_when_marked(request: pytest.FixtureRequest) -> Iterator[None]:
    """Warn instead of raising during a test marked ``lenient_dicom``."""
    if request.node.get_closest_marker("lenient_dicom") is None:
        yield
        return
    reading, writing = _set_validation_mode(pydicom_config.WARN)
    yield
    pydicom_config.settings.reading_validation_mode = reading
    pydicom_config.settings.writing_validation_mode = writing


@pytest.fixture
def clock() -> Clock:
    """A settable clock, 2026-03-02 08:00 UTC, that moves only with ``advance``."""
    return Clock()
