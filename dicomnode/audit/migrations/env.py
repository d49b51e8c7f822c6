"""Alembic environment of the audit database.

Run programmatically by :mod:`dicomnode.audit.migrate`, which passes an open connection in
``config.attributes["connection"]``; the ``alembic`` command line works too when
``sqlalchemy.url`` is set (``alembic -c dicomnode/audit/alembic.ini -x url=...``).
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from dicomnode.audit.engine import create_audit_engine
from dicomnode.audit.tables import Base


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def _main() -> None:
    if context.is_offline_mode():
        raise RuntimeError("offline (SQL script) migrations are not supported")
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    url = context.get_x_argument(as_dictionary=True).get("url") or context.config.get_main_option(
        "sqlalchemy.url"
    )
    if not url:
        raise RuntimeError("no database URL: pass -x url=... to alembic")
    engine = create_audit_engine(url)
    try:
        with engine.connect() as conn:
            _run(conn)
            conn.commit()
    finally:
        engine.dispose()


_main()
