"""``dicomnode serve`` keeps patient values out of its log (the job worker's highdicom and
pydicom warnings included) and creates its files without access for other users: spool and
results 0640, the SQLite audit database 0600."""

from __future__ import annotations

import stat
from pathlib import Path

import pydicom
import pytest
from conftest import free_port, storescu
from ct_series import write_ct_series
from phi_handler import INVALID_BIRTH_DATE
from served_node import ServedNode

pytestmark = pytest.mark.peers

PATIENT_NAME = "Doe"
"""A single-component patient name: highdicom warns about it, quoting it."""


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_no_patient_values_in_the_log_and_no_access_for_others(tmp_path: Path) -> None:
    files = write_ct_series(tmp_path / "ct", 3, size=32)
    for path in files:
        dataset = pydicom.dcmread(path)
        dataset.PatientName = PATIENT_NAME
        dataset.save_as(path)
    node = ServedNode(tmp_path / "node", free_port(),
                      {"jobs": {"handler": "phi_handler:run_job"}})
    node.start()
    try:
        assert storescu(node.port, tmp_path / "ct").returncode == 0
        node.wait_for(lambda: node.query("SELECT state FROM jobs") == [("succeeded",)],
                      what="the job")
    finally:
        assert node.stop() == 0, node.log_text()[-3000:]
    log = node.log_text()
    assert "UserWarning from highdicom/" in log, log[-3000:]  # the worker warned
    assert "pydicom at pydicom/misc.py" in log, log[-3000:]
    assert PATIENT_NAME not in log and INVALID_BIRTH_DATE not in log, log[-3000:]
    (result,) = (tmp_path / "node" / "data" / "work").glob("job-*/attempt-*/sr.dcm")
    assert pydicom.dcmread(result).PatientName == PATIENT_NAME
    created = [result, result.parent, *node.spool_files()]
    assert {_mode(p) & 0o027 for p in created} == {0}, {str(p): oct(_mode(p)) for p in created}
    database = [node.database, *node.database.parent.glob("audit.sqlite3-*")]
    assert {_mode(p) for p in database} == {0o600}, {str(p): oct(_mode(p)) for p in database}
