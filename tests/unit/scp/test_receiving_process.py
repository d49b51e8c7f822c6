"""Library settings of a receiving process: quiet below DEBUG, pynetdicom's logging at DEBUG."""

from __future__ import annotations

import logging

import pytest
from pydicom import config as pydicom_config
from pynetdicom import AE, evt
from pynetdicom import _config as pynetdicom_config
from pynetdicom._globals import MODE_ACCEPTOR
from pynetdicom.association import Association

from dicomnode.scp.server import configure_receiving_process


@pytest.fixture(autouse=True)
def _restore(monkeypatch: pytest.MonkeyPatch) -> None:
    """Let each test change the process-wide settings and put them back afterwards."""
    settings = pydicom_config.settings
    monkeypatch.setattr(pynetdicom_config, "LOG_HANDLER_LEVEL", "standard")
    monkeypatch.setattr(settings, "reading_validation_mode", settings.reading_validation_mode)
    monkeypatch.setattr(settings, "writing_validation_mode", settings.writing_validation_mode)
    logger = logging.getLogger("pynetdicom")
    monkeypatch.setattr(logger, "level", logger.level)


def _dimse_handlers() -> int:
    assoc = Association(AE(), MODE_ACCEPTOR)
    return len(assoc.get_handlers(evt.EVT_DIMSE_RECV)) + len(assoc.get_handlers(evt.EVT_DIMSE_SENT))


def test_below_debug_nothing_describes_every_message() -> None:
    configure_receiving_process(logging.INFO)
    assert _dimse_handlers() == 0
    assert pydicom_config.settings.reading_validation_mode == pydicom_config.IGNORE
    assert pydicom_config.settings.writing_validation_mode == pydicom_config.IGNORE
    assert logging.getLogger("pynetdicom").level == logging.WARNING


def test_at_debug_pynetdicom_logs_every_message() -> None:
    configure_receiving_process(logging.DEBUG)
    assert _dimse_handlers() == 2
    assert pydicom_config.settings.reading_validation_mode != pydicom_config.IGNORE
    assert logging.getLogger("pynetdicom").level == logging.DEBUG
