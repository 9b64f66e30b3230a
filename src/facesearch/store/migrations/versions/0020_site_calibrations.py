"""Site calibrations: thresholds measured on the deployer's own faces (``facesearch calibrate --save``), one in
force per model profile at a time, the ones before kept for the record; and which calibration each sighting's
threshold came from.

Revision ID: 0020
Revises: 0019
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "site_calibrations",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("profile", sa.String(50), nullable=False, index=True),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("data_sha256", sa.String(64), nullable=False),
        sa.Column("policy", sa.String(20), nullable=False),
        sa.Column("attribute", sa.String(100), nullable=True),
        sa.Column("body", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.Column("in_force", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("withdrawn_at", sa.DateTime(timezone=True), nullable=True),
    )
    # One in force per profile, even when two administrators put one in force at the same moment.
    op.create_index("uq_site_calibration_in_force", "site_calibrations", ["profile"], unique=True,
                    sqlite_where=sa.text("in_force"), postgresql_where=sa.text("in_force"))
    with op.batch_alter_table("sightings") as batch:
        batch.add_column(sa.Column("calibration", sa.String(200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("sightings") as batch:
        batch.drop_column("calibration")
    op.drop_index("uq_site_calibration_in_force", "site_calibrations")
    op.drop_table("site_calibrations")
