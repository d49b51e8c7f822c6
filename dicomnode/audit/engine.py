"""Engine and session setup for SQLite (default) and PostgreSQL.

SQLite: WAL journal, a busy timeout, foreign keys on, and ``BEGIN IMMEDIATE`` for units of
work that write, so that two writers queue on the busy timeout instead of failing when a
read transaction tries to upgrade to a write lock. Read-only units of work use a deferred
``BEGIN`` and never block writers (WAL).
The SQLite file (and its ``-wal`` and ``-shm`` files, which SQLite creates with the
database file's mode) is readable and writable by its owner only: it holds PHI.
PostgreSQL (``postgresql+psycopg://...``): a pooled engine with ``pool_pre_ping``.
Both hide statement parameters from SQLAlchemy's log lines and error messages: they carry
PHI (patient names and IDs), which stays in the database.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, make_url
from sqlalchemy.engine import URL
from sqlalchemy.orm import Session, sessionmaker

READ_ONLY_OPTION = "dicomnode_read_only"
"""Execution option that marks a unit of work as read-only (deferred ``BEGIN`` on SQLite)."""
SQLITE_FILE_MODE = 0o600
"""Permission bits of the SQLite audit database and its -wal/-shm files (owner only)."""
SQLITE_SIDE_FILES = ("-wal", "-shm", "-journal")
"""Suffixes of the files SQLite keeps next to the database."""


def create_audit_engine(
    url: str | URL,
    *,
    busy_timeout_s: float = 10.0,
    pool_size: int = 5,
    max_overflow: int = 10,
    pool_recycle_s: int = 1800,
) -> Engine:
    """Build the engine for the audit database.

    Parameters
    ----------
    url : str or URL
        ``sqlite:///path`` (the parent folder is created) or ``postgresql+psycopg://...``.
    busy_timeout_s : float
        SQLite: seconds a writer waits for the database lock before failing.
    pool_size, max_overflow : int
        PostgreSQL: persistent pooled connections, and extra ones allowed under load.
    pool_recycle_s : int
        PostgreSQL: seconds after which a pooled connection is replaced.
    """
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(parsed, busy_timeout_s)
    return create_engine(
        parsed,
        hide_parameters=True,
        pool_pre_ping=True,
        pool_size=pool_size,
        max_overflow=max_overflow,
        pool_recycle=pool_recycle_s,
    )


def _sqlite_engine(url: URL, busy_timeout_s: float) -> Engine:
    if url.database in (None, "", ":memory:"):
        raise ValueError("the audit database needs a file; in-memory SQLite is not shared")
    Path(url.database).parent.mkdir(parents=True, exist_ok=True)
    restrict_sqlite_files(Path(url.database))
    engine = create_engine(url, hide_parameters=True, connect_args={"timeout": busy_timeout_s})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event below emit BEGIN itself (pysqlite's own
        # transaction handling would defer it and break BEGIN IMMEDIATE).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_s * 1000)}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=FULL")  # a commit survives power loss
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        read_only = connection.get_execution_options().get(READ_ONLY_OPTION, False)
        connection.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")

    return engine


def restrict_sqlite_files(database: Path) -> None:
    """Make the SQLite database file (created empty when missing) and the side files next to
    it readable and writable by their owner only (:data:`SQLITE_FILE_MODE`).

    Files of another owner are left as they are (an administrator's command reading the
    node's database).

    Parameters
    ----------
    database : Path
        The database file.
    """
    with suppress(FileExistsError):  # a new database starts with the right mode
        os.close(os.open(database, os.O_WRONLY | os.O_CREAT | os.O_EXCL, SQLITE_FILE_MODE))
    for path in (database, *(Path(f"{database}{suffix}") for suffix in SQLITE_SIDE_FILES)):
        try:
            status = path.stat()
        except FileNotFoundError:
            continue
        if status.st_uid == os.geteuid() and stat.S_IMODE(status.st_mode) & ~SQLITE_FILE_MODE:
            path.chmod(stat.S_IMODE(status.st_mode) & SQLITE_FILE_MODE)


class UnitsOfWork:
    """Short sessions, one per unit of work, committed on success and rolled back on error."""

    def __init__(self, engine: Engine) -> None:
        self._write = sessionmaker(engine, expire_on_commit=False)
        self._read = sessionmaker(
            engine.execution_options(**{READ_ONLY_OPTION: True}), expire_on_commit=False
        )

    @contextmanager
    def write(self) -> Iterator[Session]:
        """A session for a unit of work that writes."""
        with self._write.begin() as session:
            yield session

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A session for a unit of work that only reads."""
        with self._read.begin() as session:
            yield session
