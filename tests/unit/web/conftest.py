"""Fixtures of the dashboard tests: a migrated SQLite audit log, users, an app client."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

# Appended, not prepended: other test folders import their own conftest by name.
sys.path.append(str(Path(__file__).parent))

from web_testing import PASSWORDS

from dicomnode.audit.log import AuditLog
from dicomnode.config import DicomNodeConfig
from dicomnode.web.app import create_app
from dicomnode.web.roles import Role
from dicomnode.web.users import UserStore


@pytest.fixture
def audit(tmp_path: Path) -> Iterator[AuditLog]:
    """A migrated SQLite audit log (1 attempt per job) with the two test users."""
    log = AuditLog.from_url(f"sqlite:///{tmp_path / 'audit.sqlite3'}", max_job_attempts=1)
    log.upgrade()
    users = UserStore(log.engine)
    users.add("olivia", Role.OPERATOR, PASSWORDS["olivia"], by_user="test")
    users.add("victor", Role.VIEWER, PASSWORDS["victor"], by_user="test")
    yield log
    log.dispose()


@pytest.fixture
def make_config(tmp_path: Path) -> Callable[..., DicomNodeConfig]:
    """A configuration with the spool in the test folder; keyword arguments override."""

    def make(**overrides: Any) -> DicomNodeConfig:
        values: dict[str, Any] = {"spool": {"path": str(tmp_path / "spool")}}
        values.update(overrides)
        return DicomNodeConfig(**values)

    return make


@pytest.fixture
def client(audit: AuditLog, make_config: Callable[..., DicomNodeConfig]) -> TestClient:
    """A client of the dashboard (local authentication), not logged in."""
    return TestClient(create_app(make_config(), audit), follow_redirects=False)
