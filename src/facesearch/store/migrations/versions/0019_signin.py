"""Face sign-in: people enrolled to verify themselves 1:1 (never on a watchlist, never searched 1:N), their sealed
templates, and the count of failed attempts that locks them out for a while.

Revision ID: 0019
Revises: 0018
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "signin_people",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(300), nullable=False),
        sa.Column("name_sealed", sa.LargeBinary(), nullable=True),
        sa.Column("name_index", sa.String(64), nullable=True, unique=True),
        sa.Column("purpose", sa.String(40), nullable=False),
        sa.Column("consent_ref", sa.String(200), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_table(
        "signin_templates",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("person_id", sa.Integer(), sa.ForeignKey("signin_people.id", ondelete="CASCADE"), nullable=False,
                  index=True),
        sa.Column("profile", sa.String(50), nullable=False),
        sa.Column("dim", sa.Integer(), nullable=False),
        sa.Column("sealed", sa.LargeBinary(), nullable=False),
        sa.Column("source_sha256", sa.String(64), nullable=False),
        sa.Column("quality", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("person_id", "profile", "source_sha256", name="uq_signin_template_source"),
    )


def downgrade() -> None:
    op.drop_table("signin_templates")
    op.drop_table("signin_people")
