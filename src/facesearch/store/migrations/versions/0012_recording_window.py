"""A case's recording window: which recordings its searches may cover, apart from its validity (when
searches may run). Nullable: a case stored before this revision follows the default rule (the installation's
look-back before its validity, through its end); new cases store the window they were given.

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("cases") as batch:
        batch.add_column(sa.Column("recorded_from", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("recorded_until", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("cases") as batch:
        batch.drop_column("recorded_until")
        batch.drop_column("recorded_from")
