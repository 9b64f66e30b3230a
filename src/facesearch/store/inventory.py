"""What an installation's database already holds, read without migrating it and without any key.

``facesearch init`` asks before it makes a key: a data key or audit key made while data sealed or signed with a
lost one exists would hide the loss instead of reporting it.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine, inspect, text
from sqlalchemy.exc import DatabaseError, OperationalError

from facesearch.store.db import DatabaseProblem

# Tables whose rows are sealed with the data key, or name who is sought (sealed since issue 13).
_SEALED_TABLES = ("templates", "evidence", "enrolment_photos", "library_faces", "identities", "cases")


@dataclass(frozen=True)
class HeldData:
    audit_entries: int
    keyed_audit_entries: int
    sealed_values: int


def held_data(engine: Engine) -> HeldData:
    """Row counts of the audit log and the sealed tables (0 for tables an older or new database lacks)."""
    try:
        with engine.connect() as conn:
            tables = set(inspect(conn).get_table_names())

            def count(table: str, where: str = "") -> int:
                if table not in tables:
                    return 0
                return int(conn.execute(text(f"SELECT COUNT(*) FROM {table} {where}")).scalar() or 0)

            keyed = 0
            if "audit_events" in tables:
                columns = {c["name"] for c in inspect(conn).get_columns("audit_events")}
                keyed = count("audit_events", "WHERE key_id IS NOT NULL") if "key_id" in columns else 0
            return HeldData(count("audit_events"), keyed, sum(count(t) for t in _SEALED_TABLES))
    except (DatabaseError, OperationalError) as exc:
        reason = str(exc.orig) if exc.orig is not None else str(exc)
        raise DatabaseProblem(engine.url.render_as_string(hide_password=True),
                              f"cannot read the database ({reason.splitlines()[0]})") from None
