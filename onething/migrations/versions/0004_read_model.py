"""read model: case_record, step_record, case_event

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26 02:00:51.543102
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "case_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_code", sa.String(length=64), nullable=False),
        sa.Column("event_key", sa.String(length=160), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("step_id", sa.String(length=64), nullable=True),
        sa.Column("department", sa.String(length=64), nullable=True),
        sa.Column("level", sa.Integer(), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("detail", sa.String(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("case_code", "event_key", name="uq_case_event_case_key"),
    )
    with op.batch_alter_table("case_event", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_case_event_department"), ["department"], unique=False)
        batch_op.create_index("ix_case_event_kind_at", ["kind", "at"], unique=False)

    op.create_table(
        "case_record",
        sa.Column("case_code", sa.String(length=64), nullable=False),
        sa.Column("bundle_code", sa.String(length=64), nullable=False),
        sa.Column("bundle_version", sa.Integer(), nullable=False),
        sa.Column("bundle_name", sa.String(), nullable=False),
        sa.Column("region", sa.String(length=6), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("applicant_key", sa.String(length=64), nullable=False),
        sa.Column("applicant_masked", sa.String(length=32), nullable=False),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("accepted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("promised_due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("overdue", sa.Boolean(), nullable=False),
        sa.Column("rating_level", sa.String(length=16), nullable=True),
        sa.Column("rated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("rectification_status", sa.String(length=16), nullable=True),
        sa.Column("rectification_due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("rectification_done_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("case_code"),
    )
    with op.batch_alter_table("case_record", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_case_record_applicant_key"), ["applicant_key"], unique=False
        )
        batch_op.create_index(
            "ix_case_record_bundle_submitted", ["bundle_code", "submitted_at"], unique=False
        )
        batch_op.create_index(
            "ix_case_record_status_submitted", ["status", "submitted_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_case_record_submitted_at"), ["submitted_at"], unique=False
        )

    op.create_table(
        "step_record",
        sa.Column("case_code", sa.String(length=64), nullable=False),
        sa.Column("step_id", sa.String(length=64), nullable=False),
        sa.Column("bundle_code", sa.String(length=64), nullable=False),
        sa.Column("department", sa.String(length=64), nullable=False),
        sa.Column("item", sa.String(), nullable=False),
        sa.Column("mode", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("warned", sa.Boolean(), nullable=False),
        sa.Column("overdue", sa.Boolean(), nullable=False),
        sa.Column("escalation_level", sa.Integer(), nullable=False),
        sa.Column("decision", sa.String(length=16), nullable=True),
        sa.Column("officer", sa.String(length=64), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("extension_used", sa.Boolean(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("case_code", "step_id"),
    )
    with op.batch_alter_table("step_record", schema=None) as batch_op:
        batch_op.create_index(
            "ix_step_record_inbox", ["department", "status", "due_at"], unique=False
        )
        batch_op.create_index("ix_step_record_status_due", ["status", "due_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("step_record", schema=None) as batch_op:
        batch_op.drop_index("ix_step_record_status_due")
        batch_op.drop_index("ix_step_record_inbox")

    op.drop_table("step_record")
    with op.batch_alter_table("case_record", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_case_record_submitted_at"))
        batch_op.drop_index("ix_case_record_status_submitted")
        batch_op.drop_index("ix_case_record_bundle_submitted")
        batch_op.drop_index(batch_op.f("ix_case_record_applicant_key"))

    op.drop_table("case_record")
    with op.batch_alter_table("case_event", schema=None) as batch_op:
        batch_op.drop_index("ix_case_event_kind_at")
        batch_op.drop_index(batch_op.f("ix_case_event_department"))

    op.drop_table("case_event")
