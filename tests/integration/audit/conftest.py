"""The audit database on both backends: every test using ``audit`` runs on SQLite and on
PostgreSQL (127.0.0.1:5432, user postgres). Each PostgreSQL test creates and drops its own
database. If the server is down it is started with ``pg_ctlcluster``; when it cannot be
reached the PostgreSQL variants fail under ``CI=true`` and are skipped otherwise."""

from __future__ import annotations

import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

sys.path.insert(0, str(Path(__file__).parent))

from audit_testing import (
    CT_IMAGE_STORAGE,
    EXPLICIT_VR_LITTLE_ENDIAN,
    STUDY_UID,
    Receive,
)
from loopback_peers import PG_DSN, postgres_database, require_postgres
from twin_clock import Clock

from dicomnode.audit import migrate
from dicomnode.audit.engine import create_audit_engine
from dicomnode.audit.log import AuditLog
from dicomnode.audit.tables import Base


@pytest.fixture(scope="session")
def postgres_available() -> None:
    """Make sure the PostgreSQL server runs (start it if needed)."""
    require_postgres()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database on each backend (for migration tests)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'audit.sqlite3'}"
        return
    request.getfixturevalue("postgres_available")
    with postgres_database() as url:
        yield url


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite database file, copied for each test."""
    path = tmp_path_factory.mktemp("template") / "audit.sqlite3"
    engine = create_audit_engine(f"sqlite:///{path}")
    migrate.upgrade(engine)
    engine.dispose()  # the last connection to close checkpoints the WAL into the file
    assert not path.with_name(path.name + "-wal").exists()
    return path


@pytest.fixture(scope="session")
def postgres_migrated(postgres_available: None) -> Iterator[str]:
    """A migrated PostgreSQL database shared by the session (emptied before each test)."""
    with postgres_database() as url:
        engine = create_audit_engine(url)
        migrate.upgrade(engine)
        engine.dispose()
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def migrated_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty, migrated database on each backend."""
    if request.param == "sqlite":
        path = tmp_path / "audit.sqlite3"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        return f"sqlite:///{path}"
    url: str = request.getfixturevalue("postgres_migrated")
    tables = ", ".join(f'"{table}"' for table in Base.metadata.tables)
    dsn = PG_DSN.replace("dbname=postgres", f"dbname={url.rsplit('/', 1)[1]}")
    with psycopg.connect(dsn, autocommit=True) as connection:
        connection.execute(f"TRUNCATE {tables} RESTART IDENTITY CASCADE")
    return url


@pytest.fixture
def audit(migrated_url: str, clock: Clock) -> Iterator[AuditLog]:
    """A migrated, empty audit log (2 attempts per job) on each backend."""
    log = AuditLog(create_audit_engine(migrated_url), max_job_attempts=2, clock=clock)
    yield log
    log.dispose()


@pytest.fixture
def receive(audit: AuditLog) -> Receive:
    """Record ``count`` stored CT instances of a series; returns their row ids."""

    def record(
        series_uid: str,
        count: int,
        *,
        study_uid: str = STUDY_UID,
        first: int = 0,
        header: dict[str, str] | None = None,
        association_id: int | None = None,
    ) -> list[int]:
        return [
            audit.record_instance(
                association_id=association_id,
                sop_instance_uid=f"{series_uid}.{number}",
                sop_class_uid=CT_IMAGE_STORAGE,
                transfer_syntax_uid=EXPLICIT_VR_LITTLE_ENDIAN,
                study_instance_uid=study_uid,
                series_instance_uid=series_uid,
                path=f"/spool/{series_uid}/{number}.dcm",
                size_bytes=1000 + number,
                status="stored",
                reason=None,
                header=header or {"PatientID": "PID-1", "Modality": "CT"},
            )
            for number in range(first, first + count)
        ]

    return record
