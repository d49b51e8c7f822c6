"""Alembic migrations of the audit database (a package so that it ships in the wheel)."""
