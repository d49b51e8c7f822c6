"""Configuration of the audit database."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import make_url


class AuditConfig(BaseModel):
    """Where the audit database lives and how connections to it behave."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    url: str = Field(
        default="sqlite:///data/audit.sqlite3",
        description="SQLAlchemy URL of the audit database. SQLite (the default) with a path "
        "relative to the working directory of the service, like spool.path; for a site "
        "PostgreSQL server use postgresql+psycopg://user:password@host:5432/dbname.",
    )
    busy_timeout_s: float = Field(
        default=10.0,
        gt=0,
        description="SQLite: seconds a writer waits for the database lock before failing.",
    )
    pool_size: int = Field(
        default=5,
        ge=1,
        description="PostgreSQL: connections kept open in the pool (pre-pinged before use).",
    )
    max_overflow: int = Field(
        default=10,
        ge=0,
        description="PostgreSQL: extra connections allowed above pool_size under load.",
    )
    upgrade_on_start: bool = Field(
        default=True,
        description="Apply pending schema migrations when the service starts (otherwise run "
        "`dicomnode db upgrade` before starting a new version).",
    )

    def display_url(self) -> str:
        """The URL with any password masked (for logs and the command line)."""
        return make_url(self.url).render_as_string(hide_password=True)
