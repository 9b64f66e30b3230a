"""Cameras, sightings with their sealed evidence, and the recordings already scanned.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "cameras",
        sa.Column("id", sa.String(100), primary_key=True),
        sa.Column("name", sa.String(300), nullable=False),
        sa.Column("location", sa.Text),
        sa.Column("url_sealed", sa.LargeBinary),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
    )
    op.create_table(
        "sightings",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("case_id", sa.Integer, sa.ForeignKey("cases.id", ondelete="CASCADE"), nullable=False),
        sa.Column("identity_id", sa.Integer, sa.ForeignKey("identities.id", ondelete="CASCADE"), nullable=False),
        sa.Column("camera_id", sa.String(100)),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("track", sa.Integer, nullable=False),
        sa.Column("start_s", sa.Float, nullable=False),
        sa.Column("end_s", sa.Float, nullable=False),
        sa.Column("best_s", sa.Float, nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True)),
        sa.Column("ended_at", sa.DateTime(timezone=True)),
        sa.Column("time_source", sa.String(40), nullable=False),
        sa.Column("score", sa.Float, nullable=False),
        sa.Column("fmr", sa.Float, nullable=False),
        sa.Column("threshold", sa.Float, nullable=False),
        sa.Column("box", sa.JSON, nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_sightings_case_id", "sightings", ["case_id"])
    op.create_index("ix_sightings_created_at", "sightings", ["created_at"])
    op.create_table(
        "evidence",
        sa.Column("sighting_id", sa.Integer, sa.ForeignKey("sightings.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("kind", sa.String(20), primary_key=True),
        sa.Column("sealed", sa.LargeBinary, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
    )
    op.create_table(
        "scanned_files",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("case_id", sa.Integer, sa.ForeignKey("cases.id", ondelete="CASCADE"), nullable=False),
        sa.Column("path", sa.Text, nullable=False),
        sa.Column("camera_id", sa.String(100)),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("mtime_ns", sa.BigInteger, nullable=False),
        sa.Column("frames", sa.Integer, nullable=False),
        sa.Column("sightings", sa.Integer, nullable=False),
        sa.Column("problem", sa.Text),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("case_id", "path", name="uq_scanned_file"),
    )


def downgrade() -> None:
    op.drop_table("scanned_files")
    op.drop_table("evidence")
    op.drop_index("ix_sightings_created_at", "sightings")
    op.drop_index("ix_sightings_case_id", "sightings")
    op.drop_table("sightings")
    op.drop_table("cameras")
