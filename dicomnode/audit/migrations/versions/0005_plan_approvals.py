"""Planners' approvals of re-planned result versions.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-05 08:10:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "plan_approvals",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("job_id", sa.Integer(), nullable=False),
        sa.Column("result_version", sa.Integer(), nullable=False),
        sa.Column("approved_by", sa.String(), nullable=False),
        sa.Column("approved_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("inputs", sa.JSON(), nullable=False),
        sa.Column("sr_sop_instance_uid", sa.String(), nullable=False),
        sa.Column("pdf_sop_instance_uid", sa.String(), nullable=True),
        sa.ForeignKeyConstraint(
            ["job_id"],
            ["jobs.id"],
            name=op.f("fk_plan_approvals_job_id_jobs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_plan_approvals")),
        sa.UniqueConstraint(
            "job_id", "result_version", name=op.f("uq_plan_approvals_job_id_result_version")
        ),
    )
    op.create_index(op.f("ix_plan_approvals_job_id"), "plan_approvals", ["job_id"])


def downgrade() -> None:
    """Revert this revision."""
    op.drop_index(op.f("ix_plan_approvals_job_id"), table_name="plan_approvals")
    op.drop_table("plan_approvals")
