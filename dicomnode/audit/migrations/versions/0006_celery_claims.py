"""Celery backend: job claim lease, broker queue and priority; the job_workers table.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-05 17:20:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("lease_expires_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("enqueued_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("queue", sa.String(), nullable=True))
        batch.add_column(sa.Column("priority", sa.Integer(), server_default="0", nullable=False))
    op.create_table(
        "job_workers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("queues", sa.Text(), nullable=False),
        sa.Column("concurrency", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("jobs_done", sa.Integer(), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_job_workers")),
        sa.UniqueConstraint("name", name=op.f("uq_job_workers_name")),
    )
    op.create_index(op.f("ix_job_workers_last_seen_at"), "job_workers", ["last_seen_at"])


def downgrade() -> None:
    """Revert this revision."""
    op.drop_index(op.f("ix_job_workers_last_seen_at"), table_name="job_workers")
    op.drop_table("job_workers")
    with op.batch_alter_table("jobs") as batch:
        batch.drop_column("priority")
        batch.drop_column("queue")
        batch.drop_column("enqueued_at")
        batch.drop_column("lease_expires_at")
