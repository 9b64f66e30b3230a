"""Camera leases for a deployment of many workers: which worker owns a camera's stream, until when, and a
fencing token that grows with every new owner, so a worker cut off from the others cannot write after its
camera moved. Sightings gain ``track_key`` (camera, owner's token, track), unique with the person, so a write
retried after a lost answer never makes a second sighting. Older sightings have none (NULL).

Revision ID: 0015
Revises: 0014
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "camera_leases",
        sa.Column("camera_id", sa.String(100), sa.ForeignKey("cameras.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("holder", sa.String(200), nullable=False),
        sa.Column("token", sa.BigInteger(), nullable=False),
        sa.Column("acquired_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    )
    with op.batch_alter_table("sightings") as batch:
        batch.add_column(sa.Column("track_key", sa.String(200), nullable=True))
        batch.create_unique_constraint("uq_sighting_track_person", ["track_key", "identity_id"])


def downgrade() -> None:
    with op.batch_alter_table("sightings") as batch:
        batch.drop_constraint("uq_sighting_track_person", type_="unique")
        batch.drop_column("track_key")
    op.drop_table("camera_leases")
