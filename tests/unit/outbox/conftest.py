"""Fixtures of the outbox tests: a migrated SQLite audit log read with a settable clock."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from outbox_twins import succeeded_job
from twin_clock import Clock

from dicomnode.audit.engine import create_audit_engine
from dicomnode.audit.log import AuditLog


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    """URL of a migrated SQLite audit database."""
    url = f"sqlite:///{tmp_path / 'audit.sqlite3'}"
    log = AuditLog.from_url(url)
    log.upgrade()
    log.dispose()
    return url


@pytest.fixture
def audit(db_url: str, clock: Clock) -> Iterator[AuditLog]:
    """The audit log."""
    log = AuditLog(create_audit_engine(db_url), clock=clock)
    yield log
    log.dispose()


@pytest.fixture
def make_job() -> Callable[..., int]:
    """``make_job(audit, outputs, series="1.2.3.1") -> job id`` (succeeded, with outputs)."""
    return succeeded_job
