"""Failed sign-ins kept in the database, so that the limit on them holds across every process: several
``serve`` replicas behind one address (a cluster), and separate CLI runs. A row is a 16-byte hash of the key
(address and name) and a time; rows older than the window are deleted as new ones come.

Revision ID: 0016
Revises: 0015
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sign_in_failures",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("key_digest", sa.String(32), nullable=False, index=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False, index=True),
    )


def downgrade() -> None:
    op.drop_table("sign_in_failures")
