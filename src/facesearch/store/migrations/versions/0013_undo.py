"""Undo: cameras get a status (enabled, disabled or removed). A removed camera's row is kept, its stream
address deleted, because sightings and scanned files name cameras by id.

Revision ID: 0013
Revises: 0012
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("cameras") as batch:
        batch.add_column(sa.Column("status", sa.String(20), nullable=False, server_default="enabled"))


def downgrade() -> None:
    with op.batch_alter_table("cameras") as batch:
        batch.drop_column("status")
