"""Identities and their sealed templates.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "identities",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(300), nullable=False),
        sa.Column("reference", sa.JSON, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
    )
    op.create_table(
        "templates",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("identity_id", sa.Integer, sa.ForeignKey("identities.id", ondelete="CASCADE"), nullable=False),
        sa.Column("profile", sa.String(100), nullable=False),
        sa.Column("dim", sa.Integer, nullable=False),
        sa.Column("sealed", sa.LargeBinary, nullable=False),
        sa.Column("source_sha256", sa.String(64), nullable=False),
        sa.Column("quality", sa.JSON, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("identity_id", "profile", "source_sha256", name="uq_template_source"),
    )
    op.create_index("ix_templates_identity_id", "templates", ["identity_id"])


def downgrade() -> None:
    op.drop_index("ix_templates_identity_id", "templates")
    op.drop_table("templates")
    op.drop_table("identities")
