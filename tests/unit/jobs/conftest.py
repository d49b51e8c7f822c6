"""Fixtures of the job runner tests: a migrated SQLite audit log and the twin handlers."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from dicomnode.audit.log import AuditLog

TWINS_DIR = Path(__file__).parent
sys.path.insert(0, str(TWINS_DIR))  # spawned worker processes inherit sys.path


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    """URL of a migrated SQLite audit database."""
    url = f"sqlite:///{tmp_path / 'audit.sqlite3'}"
    log = AuditLog.from_url(url)
    log.upgrade()
    log.dispose()
    return url


@pytest.fixture
def audit(db_url: str) -> Iterator[AuditLog]:
    """The audit log (2 attempts per job)."""
    log = AuditLog.from_url(db_url, max_job_attempts=2)
    yield log
    log.dispose()


def queue_job(audit: AuditLog, series_uid: str = "1.2.3.1", instances: int = 2) -> int:
    """Record stored instances of a series and create its job."""
    for number in range(instances):
        audit.record_instance(
            association_id=None,
            sop_instance_uid=f"{series_uid}.{number}",
            sop_class_uid="1.2.840.10008.5.1.4.1.1.2",
            transfer_syntax_uid="1.2.840.10008.1.2.1",
            study_instance_uid="1.2.826.0.1.1",
            series_instance_uid=series_uid,
            path=f"/spool/{series_uid}/{number}.dcm",
            size_bytes=10,
            status="stored",
            reason=None,
            header={"Modality": "CT"},
        )
    return audit.create_job(
        study_instance_uid="1.2.826.0.1.1", series_instance_uids=[series_uid], calling_ae="PACS"
    )


@pytest.fixture
def queue() -> Callable[..., int]:
    """``queue(audit, series_uid="1.2.3.1", instances=2) -> job id``."""
    return queue_job
