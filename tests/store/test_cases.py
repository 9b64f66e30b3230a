"""Cases on SQLite and PostgreSQL: life cycle rules, identification inside an active case, deletion."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from facesearch.audit import log as audit
from facesearch.audit.verification import verify as verify_log
from facesearch.cases.identify import identify
from facesearch.cases.service import (
    CaseError,
    activate_case,
    authorise_case,
    close_case,
    create_case,
    enrol_into_case,
    expire_cases,
)
from facesearch.engine import Engine
from facesearch.store.crypto import Sealer
from facesearch.store.schema import TemplateRow
from support.audit import open_audited
from support.context import context_for

AUTH = {"legal_basis": "Police Act s.1", "authorisation_ref": "AUTH-7", "authorising_authority": "Court",
        "authorised_by": "Judge R."}


def soon(days: int = 10) -> datetime:
    return datetime.now(UTC) + timedelta(days=days)


def templates(sessions: object) -> int:
    with sessions() as s:  # type: ignore[operator]
        return int(s.scalar(select(func.count()).select_from(TemplateRow)))


@pytest.mark.parametrize(
    ("kwargs", "reason"),
    [
        ({"purpose": "curiosity"}, "is not one of"),
        ({"purpose": "other"}, "needs a description"),
        ({"valid_until": datetime.now(UTC) + timedelta(days=45)}, "exceeds the maximum of 30 days"),
        ({"valid_until": datetime.now(UTC) - timedelta(days=1)}, "is not after"),
        ({"reviewers_required": 0}, "requires at least 2 distinct reviewers"),
        ({"reviewers_required": 1}, "reviewers_required: 1 is outside 2 to 10"),
    ],
)
def test_invalid_cases_are_refused(database_url: str, kwargs: dict[str, object], reason: str) -> None:
    _, sessions = open_audited(database_url)
    args: dict[str, object] = {"title": "t", "purpose": "victim", "valid_until": soon(), **AUTH, **kwargs}
    with pytest.raises(CaseError, match=reason):
        create_case(sessions, actor="officer", **args)  # type: ignore[arg-type]


def test_only_an_authorised_case_can_be_activated(database_url: str) -> None:
    _, sessions = open_audited(database_url)
    draft = create_case(sessions, title="Missing: J. Doe", purpose="missing-person", valid_until=soon(),
                        actor="officer", legal_basis="x")
    assert draft.status == "draft"
    with pytest.raises(CaseError, match="missing authorisation_ref"):
        activate_case(sessions, draft.ref, actor="officer")
    completed = authorise_case(sessions, draft.ref, actor="officer", authorisation_ref="A-9", authorised_by="J.")
    assert completed.status == "authorised" and completed.fields["legal_basis"] == "x"
    case = create_case(sessions, title="Missing: J. Doe", purpose="missing-person", valid_until=soon(),
                       actor="officer", **AUTH)
    assert case.status == "authorised" and case.reviewers_required == 2
    assert activate_case(sessions, case.ref, actor="officer").status == "active"
    with pytest.raises(CaseError, match="no such case"):
        activate_case(sessions, "C999", actor="officer")


def test_identify_inside_an_active_case_and_nowhere_else(database_url: str, tmp_path: Path, engine: Engine,
                                                        people: Path) -> None:
    _, sessions = open_audited(database_url)
    sealer = Sealer(os.urandom(32))
    case = create_case(sessions, title="Suspect", purpose="suspect", valid_until=soon(), actor="officer", **AUTH)
    ctx = context_for(sessions, sealer, engine, tmp_path)
    enrol_into_case(ctx, case.ref, "Barack Obama", [people / "obama.jpg"], actor="officer")
    enrol_into_case(ctx, case.ref, "Lin-Manuel Miranda", [people / "lin-manuel-miranda.png"], actor="officer")
    with pytest.raises(CaseError, match="not active"):
        identify(ctx, case.ref, people / "obama2.jpg", actor="reviewer")
    activate_case(sessions, case.ref, actor="officer")

    found = identify(ctx, case.ref, people / "obama2.jpg", actor="reviewer")
    assert found.watchlist_size == 2 and found.target_fpir == 1e-3
    assert [c.name for c in found.faces[0].candidates] == ["Barack Obama"]
    assert found.faces[0].candidates[0].rank == 1 and found.faces[0].candidates[0].fmr < 1e-4
    nobody = identify(ctx, case.ref, people / "biden.jpg", actor="reviewer")
    assert len(nobody.faces) == 1 and nobody.faces[0].no_match
    assert nobody.to_json()["faces"][0]["match"] is False

    close_case(sessions, case.ref, actor="officer")
    with pytest.raises(CaseError, match="closed"):
        identify(ctx, case.ref, people / "obama2.jpg", actor="reviewer")
    assert templates(sessions) == 0  # the watchlist is gone with the case
    with sessions() as s:
        actions = [e.action for e in audit.events(s, case_id=case.ref)]
        assert actions == ["case.create", "identity.enrol", "identity.enrol", "search.refused", "case.activate",
                           "search.identify", "search.identify", "case.close", "search.refused"]
        details = [e.details for e in audit.events(s, case_id=case.ref) if e.action == "search.identify"]
        assert details[1]["faces_without_match"] == 1 and details[1]["candidates"] == []
        assert verify_log(s).ok


def test_templates_survive_while_another_live_case_needs_them(database_url: str, tmp_path: Path, engine: Engine,
                                                              people: Path) -> None:
    _, sessions = open_audited(database_url)
    sealer = Sealer(os.urandom(32))
    first = create_case(sessions, title="A", purpose="victim", valid_until=soon(), actor="o", **AUTH)
    second = create_case(sessions, title="B", purpose="victim", valid_until=soon(20), actor="o", **AUTH)
    report = enrol_into_case(context_for(sessions, sealer, engine, tmp_path), first.ref, "Barack Obama",
                             [people / "obama.jpg"], actor="o")
    with sessions.begin() as s:
        from facesearch.store.schema import CaseTargetRow

        s.add(CaseTargetRow(case_id=int(second.ref[1:]), identity_id=report.identity_id))
    close_case(sessions, first.ref, actor="o")
    assert templates(sessions) == 1
    assert expire_cases(sessions, now=soon(25)) == [second.ref]
    assert templates(sessions) == 0
