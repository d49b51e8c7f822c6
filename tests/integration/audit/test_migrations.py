"""Alembic migrations: create the schema from nothing, are idempotent, and match the models."""

from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from dicomnode.audit import migrate
from dicomnode.audit.engine import create_audit_engine
from dicomnode.audit.log import AuditLog
from dicomnode.audit.tables import Base


def test_upgrade_creates_every_table_and_is_idempotent(database_url: str) -> None:
    audit = AuditLog.from_url(database_url)
    try:
        assert migrate.current_revision(audit.engine) is None
        audit.upgrade()
        audit.upgrade()
        assert migrate.current_revision(audit.engine) == migrate.head_revision()
        tables = set(inspect(audit.engine).get_table_names())
        assert set(Base.metadata.tables) <= tables
        assert "alembic_version" in tables
    finally:
        audit.dispose()


def test_models_and_migrations_agree(database_url: str) -> None:
    engine = create_audit_engine(database_url)
    try:
        migrate.upgrade(engine)
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            differences = compare_metadata(context, Base.metadata)
        assert differences == []
    finally:
        engine.dispose()


def test_downgrade_to_base_and_back(database_url: str) -> None:
    engine = create_audit_engine(database_url)
    try:
        migrate.upgrade(engine)
        config = migrate.alembic_config()
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.downgrade(config, "base")
        assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
        migrate.upgrade(engine)
        assert "jobs" in inspect(engine).get_table_names()
    finally:
        engine.dispose()
