"""The audit log in a real database (SQLite and PostgreSQL): appends, verification, tampering, rollback."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from facesearch.audit import log as audit
from facesearch.audit.verification import verify as verify_log
from facesearch.store.db import current_revision, head_revision
from support.audit import open_audited


def test_schema_is_built_by_the_migrations(database_url: str) -> None:
    engine, _ = open_audited(database_url)
    assert current_revision(engine) == head_revision()
    open_audited(database_url)  # a second open is a no-op, not an error


def test_entries_chain_and_verify(database_url: str) -> None:
    _, sessions = open_audited(database_url)
    for i in range(5):
        with sessions.begin() as s:
            audit.append(s, actor="officer", action="case.update", case_id="C1" if i % 2 else "C2",
                         details={"field": "title", "value": f"v{i}"})
    with sessions() as s:
        result = verify_log(s)
        assert result.ok and result.checked == 5
        assert [e.seq for e in audit.events(s, case_id="C1")] == [1, 3]


def test_a_rolled_back_action_leaves_no_entry(database_url: str) -> None:
    _, sessions = open_audited(database_url)
    with sessions.begin() as s:
        audit.append(s, actor="a", action="x")
    with pytest.raises(RuntimeError), sessions.begin() as s:
        audit.append(s, actor="a", action="enrol")
        raise RuntimeError("the enrolment failed after its entry was written")
    with sessions() as s:
        assert [e.action for e in audit.events(s)] == ["x"]
        assert verify_log(s).ok


@pytest.mark.parametrize(
    ("tamper", "reason"),
    [
        ("UPDATE audit_events SET actor = 'intruder' WHERE seq = 2", "entry 2 was changed"),
        ("DELETE FROM audit_events WHERE seq = 2", "entries removed"),
        ("DELETE FROM audit_events WHERE seq >= 3", "cut from the end"),
    ],
)
def test_tampering_in_the_database_is_named(database_url: str, tamper: str, reason: str) -> None:
    engine, sessions = open_audited(database_url)
    for i in range(5):
        with sessions.begin() as s:
            audit.append(s, actor="officer", action="case.update", details={"i": i})
    with engine.begin() as conn:
        conn.execute(text(tamper))
    with sessions() as s:
        result = verify_log(s)
    assert not result.ok and reason in result.reason
