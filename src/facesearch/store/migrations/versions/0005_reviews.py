"""Reviews of candidate sightings, and the enrolment photos reviewers compare them with.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "reviews",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("sighting_id", sa.Integer, sa.ForeignKey("sightings.id", ondelete="CASCADE"), nullable=False),
        sa.Column("reviewer", sa.String(200), nullable=False),
        sa.Column("decision", sa.String(20), nullable=False),
        sa.Column("note", sa.Text),
        sa.Column("seen", sa.JSON, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("sighting_id", "reviewer", name="uq_review_reviewer"),
    )
    op.create_index("ix_reviews_sighting_id", "reviews", ["sighting_id"])
    op.create_table(
        "enrolment_photos",
        sa.Column("template_id", sa.Integer, sa.ForeignKey("templates.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("sealed", sa.LargeBinary, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("enrolment_photos")
    op.drop_index("ix_reviews_sighting_id", "reviews")
    op.drop_table("reviews")
