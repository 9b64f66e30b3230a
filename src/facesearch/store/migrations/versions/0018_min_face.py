"""Smallest face sizes. A scanned file records the smallest face it was searched for: a rerun that asks for
smaller faces searches the file again instead of skipping it (files scanned before have none, NULL, and are
skipped by reruns as before). A camera may be registered with its own smallest face, which its live searches
use (NULL: the default).

Revision ID: 0018
Revises: 0017
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("scanned_files") as batch:
        batch.add_column(sa.Column("min_face", sa.Float(), nullable=True))
    with op.batch_alter_table("cameras") as batch:
        batch.add_column(sa.Column("min_face", sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("cameras") as batch:
        batch.drop_column("min_face")
    with op.batch_alter_table("scanned_files") as batch:
        batch.drop_column("min_face")
