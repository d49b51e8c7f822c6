"""Connections refused before or outside DICOM's association rejection.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-04 17:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "connection_refusals",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("peer_address", sa.String(), nullable=False),
        sa.Column("reason", sa.String(), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("first_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_connection_refusals")),
    )
    op.create_index(
        op.f("ix_connection_refusals_peer_address"), "connection_refusals", ["peer_address"]
    )
    op.create_index(op.f("ix_connection_refusals_first_at"), "connection_refusals", ["first_at"])


def downgrade() -> None:
    """Revert this revision."""
    op.drop_index(op.f("ix_connection_refusals_first_at"), table_name="connection_refusals")
    op.drop_index(op.f("ix_connection_refusals_peer_address"), table_name="connection_refusals")
    op.drop_table("connection_refusals")
