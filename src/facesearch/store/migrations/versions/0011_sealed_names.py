"""Sealed names: identity names and references, case titles, purpose texts and legal bases, review notes and
library names get a sealed column each, and names a keyed blind index (``store.sealed_text``).

A migration has no key, so it only adds the columns: the plaintext already stored is sealed, and then
blanked, the first time the installation is opened with its key (``Context.open`` runs
``sealed_text.seal_plaintext``, idempotent). Until then the old plaintext columns are read as they are.

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

SEALED = {
    "identities": ("name", "reference"),
    "cases": ("title", "purpose_text", "legal_basis"),
    "reviews": ("note",),
    "library_people": ("name",),
}
INDEXED = ("identities", "library_people")


def upgrade() -> None:
    for table, fields in SEALED.items():
        with op.batch_alter_table(table) as batch:
            for field in fields:
                batch.add_column(sa.Column(f"{field}_sealed", sa.LargeBinary, nullable=True))
            if table in INDEXED:
                batch.add_column(sa.Column("name_index", sa.String(64), nullable=True))
                batch.create_index(f"ix_{table}_name_index", ["name_index"])


def downgrade() -> None:
    # Sealed values cannot be opened without the key: a downgrade keeps only what is still in clear.
    for table, fields in SEALED.items():
        with op.batch_alter_table(table) as batch:
            if table in INDEXED:
                batch.drop_index(f"ix_{table}_name_index")
                batch.drop_column("name_index")
            for field in reversed(fields):
                batch.drop_column(f"{field}_sealed")
