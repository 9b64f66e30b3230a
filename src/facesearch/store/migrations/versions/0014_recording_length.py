"""Recording length: a scanned file records how long the recording is, in seconds, so that a case's timeline
runs to the end of the recording rather than to its last sighting. Files scanned before have none (NULL): the
timeline falls back to their last sighting.

Revision ID: 0014
Revises: 0013
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("scanned_files") as batch:
        batch.add_column(sa.Column("duration_s", sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("scanned_files") as batch:
        batch.drop_column("duration_s")
