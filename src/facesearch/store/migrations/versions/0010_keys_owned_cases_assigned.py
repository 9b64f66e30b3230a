"""Keys belong to people (``api_keys.owner``); officers and reviewers are assigned to cases (need to know).

Keys made before this revision have no owner and stop working: each person makes their own again.
Cases made before it have no assignments: an administrator assigns their officers and reviewers
(``facesearch case assign``).

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("api_keys") as batch:
        batch.add_column(sa.Column("owner", sa.String(100), nullable=True))
    op.create_table(
        "case_assignments",
        sa.Column("case_id", sa.Integer, sa.ForeignKey("cases.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("username", sa.String(100), sa.ForeignKey("users.username", ondelete="CASCADE"),
                  primary_key=True),
        sa.Column("assigned_by", sa.String(200), nullable=False),
        sa.Column("assigned_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_case_assignments_username", "case_assignments", ["username"])


def downgrade() -> None:
    op.drop_index("ix_case_assignments_username", table_name="case_assignments")
    op.drop_table("case_assignments")
    with op.batch_alter_table("api_keys") as batch:
        batch.drop_column("owner")
