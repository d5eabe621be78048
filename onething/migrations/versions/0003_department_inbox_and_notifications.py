"""department inbox and notifications

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26 01:50:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "department_inbox",
        sa.Column("case_code", sa.String(length=64), nullable=False),
        sa.Column("step_id", sa.String(length=64), nullable=False),
        sa.Column("department", sa.String(length=64), nullable=False),
        sa.Column("bundle_code", sa.String(length=64), nullable=False),
        sa.Column("item", sa.String(), nullable=False),
        sa.Column(
            "status", sa.Enum("pending", "decided", "withdrawn", name="inboxstatus"), nullable=False
        ),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("dispatched_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("withdrawn_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("withdraw_reason", sa.String(), nullable=False),
        sa.Column("outcome", sa.String(length=32), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("case_code", "step_id"),
    )
    with op.batch_alter_table("department_inbox", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_department_inbox_department"), ["department"], unique=False
        )

    op.create_table(
        "notification",
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("case_code", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("recipient", sa.String(length=128), nullable=False),
        sa.Column("step_id", sa.String(length=64), nullable=True),
        sa.Column("message", sa.String(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )
    with op.batch_alter_table("notification", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_notification_case_code"), ["case_code"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("notification", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_notification_case_code"))
    op.drop_table("notification")
    with op.batch_alter_table("department_inbox", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_department_inbox_department"))
    op.drop_table("department_inbox")
    sa.Enum(name="inboxstatus").drop(op.get_bind(), checkfirst=True)
