"""Cases and the identities they target.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "cases",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("title", sa.String(300), nullable=False),
        sa.Column("purpose", sa.String(40), nullable=False),
        sa.Column("purpose_text", sa.Text),
        sa.Column("legal_basis", sa.Text),
        sa.Column("authorisation_ref", sa.String(200)),
        sa.Column("authorising_authority", sa.String(300)),
        sa.Column("authorised_by", sa.String(200)),
        sa.Column("valid_from", sa.DateTime(timezone=True), nullable=False),
        sa.Column("valid_until", sa.DateTime(timezone=True), nullable=False),
        sa.Column("cameras", sa.JSON, nullable=False),
        sa.Column("reviewers_required", sa.Integer, nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True)),
    )
    op.create_index("ix_cases_status", "cases", ["status"])
    op.create_table(
        "case_targets",
        sa.Column("case_id", sa.Integer, sa.ForeignKey("cases.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("identity_id", sa.Integer, sa.ForeignKey("identities.id", ondelete="CASCADE"), primary_key=True),
    )


def downgrade() -> None:
    op.drop_table("case_targets")
    op.drop_index("ix_cases_status", "cases")
    op.drop_table("cases")
