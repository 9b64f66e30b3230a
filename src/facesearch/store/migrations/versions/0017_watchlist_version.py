"""A version number per case's watchlist, raised by the database itself whenever what the watchlist holds may
have changed: a target added to or taken off the case, or a template of a target added, changed or deleted
(through any path: enrolment, a photo's removal, retention, a person's removal, a cascade).

A live watch compares one integer, read with the case row it reads anyway, instead of the ids of every template
the watchlist holds (which, at 10,000 cameras, was the database's largest read); the cameras of one node share
a watchlist's index while its version stands. Triggers, not application code, keep it: no write path can forget.

Revision ID: 0017
Revises: 0016
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

_BUMP_TARGETS = ("UPDATE cases SET watchlist_version = watchlist_version + 1 WHERE id IN "
                 "(SELECT case_id FROM case_targets WHERE identity_id = {row}.identity_id)")
_BUMP_CASE = "UPDATE cases SET watchlist_version = watchlist_version + 1 WHERE id = {row}.case_id"

# (trigger, event, table, statements with {row} for NEW or OLD)
_TRIGGERS = [
    ("watchlist_template_added", "INSERT", "templates", [_BUMP_TARGETS.format(row="NEW")]),
    ("watchlist_template_deleted", "DELETE", "templates", [_BUMP_TARGETS.format(row="OLD")]),
    ("watchlist_template_changed", "UPDATE", "templates",
     ["UPDATE cases SET watchlist_version = watchlist_version + 1 WHERE id IN (SELECT case_id FROM case_targets "
      "WHERE identity_id IN (OLD.identity_id, NEW.identity_id))"]),
    ("watchlist_target_added", "INSERT", "case_targets", [_BUMP_CASE.format(row="NEW")]),
    ("watchlist_target_deleted", "DELETE", "case_targets", [_BUMP_CASE.format(row="OLD")]),
]


def upgrade() -> None:
    op.add_column("cases", sa.Column("watchlist_version", sa.BigInteger(), nullable=False, server_default="0"))
    # The triggers look targets up by identity; the primary key (case_id, identity_id) cannot serve that.
    op.create_index("ix_case_targets_identity_id", "case_targets", ["identity_id"])
    postgres = op.get_bind().dialect.name == "postgresql"
    for name, event, table, statements in _TRIGGERS:
        body = "; ".join(statements)
        if postgres:
            ret = "OLD" if event == "DELETE" else "NEW"
            op.execute(f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$ "
                       f"BEGIN {body}; RETURN {ret}; END $$")
            op.execute(f"CREATE TRIGGER {name} AFTER {event} ON {table} FOR EACH ROW EXECUTE FUNCTION {name}()")
        else:
            op.execute(f"CREATE TRIGGER {name} AFTER {event} ON {table} FOR EACH ROW BEGIN {body}; END")


def downgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    for name, _event, table, _statements in _TRIGGERS:
        op.execute(f"DROP TRIGGER IF EXISTS {name}" + (f" ON {table}" if postgres else ""))
        if postgres:
            op.execute(f"DROP FUNCTION IF EXISTS {name}()")
    op.drop_index("ix_case_targets_identity_id", "case_targets")
    with op.batch_alter_table("cases") as batch:
        batch.drop_column("watchlist_version")
