"""Audit configuration, the UTC timestamp type and the SQLite engine settings."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy.dialects import postgresql, sqlite

from dicomnode.audit.config import AuditConfig
from dicomnode.audit.engine import READ_ONLY_OPTION, UnitsOfWork, create_audit_engine
from dicomnode.audit.tables import UTCDateTime


def test_config_defaults_and_masked_url() -> None:
    config = AuditConfig()
    assert config.url == "sqlite:///data/audit.sqlite3"
    assert config.upgrade_on_start is True
    site = AuditConfig(url="postgresql+psycopg://audit:s3cret@db.example:5432/dicomnode")
    assert site.display_url() == "postgresql+psycopg://audit:***@db.example:5432/dicomnode"
    with pytest.raises(ValueError):
        AuditConfig(busy_timeout_s=0)
    with pytest.raises(ValueError):
        AuditConfig.model_validate({"uri": "sqlite://"})


def test_utc_datetime_stores_utc_and_returns_aware() -> None:
    column = UTCDateTime()
    cet = timezone(timedelta(hours=1))
    local = datetime(2026, 3, 2, 9, 30, tzinfo=cet)
    stored = column.process_bind_param(local, sqlite.dialect())
    assert stored == datetime(2026, 3, 2, 8, 30)  # naive UTC on SQLite
    assert column.process_result_value(stored, sqlite.dialect()) == local
    assert column.process_bind_param(local, postgresql.dialect()) == local.astimezone(UTC)
    assert column.process_bind_param(None, sqlite.dialect()) is None
    with pytest.raises(ValueError, match="naive"):
        column.process_bind_param(datetime(2026, 3, 2), sqlite.dialect())


def test_sqlite_engine_settings(tmp_path: Path) -> None:
    engine = create_audit_engine(f"sqlite:///{tmp_path / 'sub' / 'a.sqlite3'}", busy_timeout_s=2.5)
    try:
        units = UnitsOfWork(engine)
        with units.write() as session:
            connection = session.connection()
            pragma = connection.exec_driver_sql
            assert pragma("PRAGMA journal_mode").scalar() == "wal"
            assert pragma("PRAGMA foreign_keys").scalar() == 1
            assert pragma("PRAGMA busy_timeout").scalar() == 2500
            assert pragma("PRAGMA synchronous").scalar() == 2  # FULL
            assert connection.in_transaction()
        with units.read() as session:
            assert session.connection().get_execution_options()[READ_ONLY_OPTION] is True
    finally:
        engine.dispose()
    with pytest.raises(ValueError, match="in-memory"):
        create_audit_engine("sqlite://")


def test_write_units_take_the_lock_at_begin(tmp_path: Path) -> None:
    """BEGIN IMMEDIATE: a second writer waits for the first instead of failing mid-way."""
    engine = create_audit_engine(f"sqlite:///{tmp_path / 'a.sqlite3'}", busy_timeout_s=0.2)
    other = create_audit_engine(f"sqlite:///{tmp_path / 'a.sqlite3'}", busy_timeout_s=0.2)
    try:
        with UnitsOfWork(engine).write() as session:
            session.connection()  # the write lock is held from here on
            with pytest.raises(Exception, match="locked"), UnitsOfWork(other).write() as blocked:
                blocked.connection()
            with UnitsOfWork(other).read() as reader:  # readers are never blocked (WAL)
                assert reader.connection().exec_driver_sql("SELECT 1").scalar() == 1
    finally:
        engine.dispose()
        other.dispose()
