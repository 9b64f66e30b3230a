"""A case's watchlist version is raised by the database at every change of what its watchlist holds, whatever
path made it (migration 0017's triggers), and at nothing else. On SQLite and on a real PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete, update

from facesearch.cases.service import create_case
from facesearch.store.schema import CaseRow, CaseTargetRow, IdentityRow, TemplateRow
from support.audit import open_audited

T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def _case(sessions: Any, title: str) -> int:
    case = create_case(sessions, title=title, purpose="victim", actor="user:olga", valid_from=T0,
                       valid_until=T0 + timedelta(days=5), legal_basis="x", authorisation_ref="y", authorised_by="z")
    return int(case.ref[1:])


def _person(sessions: Any) -> int:
    with sessions.begin() as s:
        row = IdentityRow(name="", reference={}, created_at=T0, created_by="user:olga")
        s.add(row)
        s.flush()
        return int(row.id)


def _template(sessions: Any, identity: int, profile: str = "default") -> int:
    with sessions.begin() as s:
        row = TemplateRow(identity_id=identity, profile=profile, dim=4, sealed=b"x", source_sha256="0" * 64,
                          quality={}, created_at=T0)
        s.add(row)
        s.flush()
        return int(row.id)


def _versions(sessions: Any, *cases: int) -> list[int]:
    with sessions() as s:
        return [int(s.get_one(CaseRow, c).watchlist_version) for c in cases]


def test_every_change_of_what_a_watchlist_holds_raises_its_version_and_nothing_else_does(database_url: str) -> None:
    _, sessions = open_audited(database_url)
    a, b = _case(sessions, "A"), _case(sessions, "B")
    both, only_b, nobody = _person(sessions), _person(sessions), _person(sessions)
    assert _versions(sessions, a, b) == [0, 0]

    with sessions.begin() as s:  # targets added
        s.add_all([CaseTargetRow(case_id=a, identity_id=both), CaseTargetRow(case_id=b, identity_id=both),
                   CaseTargetRow(case_id=b, identity_id=only_b)])
    assert _versions(sessions, a, b) == [1, 2]

    first = _template(sessions, both)  # a template of a person both cases seek: both change
    assert _versions(sessions, a, b) == [2, 3]
    _template(sessions, only_b)
    assert _versions(sessions, a, b) == [2, 4]
    _template(sessions, nobody)  # someone no case seeks: nothing changes
    assert _versions(sessions, a, b) == [2, 4]

    with sessions.begin() as s:  # a template rewritten (a key rotation re-seals it): looked at again
        s.execute(update(TemplateRow).where(TemplateRow.id == first).values(sealed=b"y"))
    assert _versions(sessions, a, b) == [3, 5]
    with sessions.begin() as s:  # a photo removed, by a bulk delete the ORM never sees row by row
        s.execute(delete(TemplateRow).where(TemplateRow.id == first))
    assert _versions(sessions, a, b) == [4, 6]
    with sessions.begin() as s:  # off one watchlist, templates kept for the other case
        s.execute(delete(CaseTargetRow).where(CaseTargetRow.case_id == a, CaseTargetRow.identity_id == both))
    assert _versions(sessions, a, b) == [5, 6]

    _template(sessions, both)
    assert _versions(sessions, a, b) == [5, 7]
    with sessions.begin() as s:  # a person deleted: targets and templates go by cascade
        s.delete(s.get_one(IdentityRow, both))
    after = _versions(sessions, a, b)
    assert after[0] == 5 and after[1] > 7
    with sessions.begin() as s:  # a case deleted (its targets by cascade) takes nothing else with it
        s.delete(s.get_one(CaseRow, b))
    assert _versions(sessions, a) == [5]
