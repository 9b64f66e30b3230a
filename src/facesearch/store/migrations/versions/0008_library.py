"""The personal photo library: photos, faces (sealed embeddings and crops), people, "not this person".

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "library_photos",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("path", sa.String(4096), nullable=False, unique=True),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("mtime_ns", sa.BigInteger, nullable=False),
        sa.Column("sha256", sa.String(64)),
        sa.Column("dhash", sa.String(16)),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("reason", sa.Text),
        sa.Column("duplicate_of", sa.Integer, sa.ForeignKey("library_photos.id", ondelete="SET NULL")),
        sa.Column("indexed_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_library_photos_sha256", "library_photos", ["sha256"])
    op.create_table(
        "library_people",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(300)),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "library_faces",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("photo_id", sa.Integer, sa.ForeignKey("library_photos.id", ondelete="CASCADE"), nullable=False),
        sa.Column("person_id", sa.Integer, sa.ForeignKey("library_people.id", ondelete="SET NULL")),
        sa.Column("face_index", sa.Integer, nullable=False),
        sa.Column("box", sa.JSON, nullable=False),
        sa.Column("face_size", sa.Float, nullable=False),
        sa.Column("sharpness", sa.Float, nullable=False),
        sa.Column("clusterable", sa.Boolean, nullable=False),
        sa.Column("pinned", sa.Boolean, nullable=False),
        sa.Column("profile", sa.String(100), nullable=False),
        sa.Column("embedding", sa.LargeBinary, nullable=False),
        sa.Column("crop", sa.LargeBinary, nullable=False),
    )
    op.create_index("ix_library_faces_photo_id", "library_faces", ["photo_id"])
    op.create_index("ix_library_faces_person_id", "library_faces", ["person_id"])
    op.create_table(
        "library_rejections",
        sa.Column("face_id", sa.Integer, sa.ForeignKey("library_faces.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("person_id", sa.Integer, sa.ForeignKey("library_people.id", ondelete="CASCADE"), primary_key=True),
    )


def downgrade() -> None:
    op.drop_table("library_rejections")
    op.drop_index("ix_library_faces_person_id", "library_faces")
    op.drop_index("ix_library_faces_photo_id", "library_faces")
    op.drop_table("library_faces")
    op.drop_table("library_people")
    op.drop_index("ix_library_photos_sha256", "library_photos")
    op.drop_table("library_photos")
