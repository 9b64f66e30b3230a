"""The audit log searched (``facesearch.audit.query``) in a real database, SQLite and PostgreSQL: each filter,
filters together, paging and totals, the distinct actions, and input that is refused in one line."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import update

from facesearch.audit import log as audit
from facesearch.audit.query import PAGE_SIZE, AuditFilter, matching, search
from facesearch.cases.service import parse_case_time
from facesearch.errors import BadInputError
from facesearch.paging import PageError
from facesearch.store.schema import AuditEventRow
from support.audit import open_audited

# (actor, action, case) for each entry, in order: seq 0..7.
ENTRIES = [("user:olga", "case.create", "C1"), ("user:olga", "case.authorise", "C1"),
           ("user:rita", "sighting.confirm", "C1"), ("user:margarita", "case.create", "C2"),
           ("key:ingest", "scan.start", "C2"), ("user:ava", "export.package", None),
           ("user:Rita", "case.close", "C7"), ("system", "retention.run", None)]
DAYS = ["2025-01-30T12:00:00.000000+00:00", "2025-01-31T00:00:00.000000+00:00", "2025-01-31T12:30:00.000000+00:00",
        "2025-01-31T23:59:59.999999+00:00", "2025-02-01T00:00:00.000000+00:00", "2025-02-01T08:00:00.000000+00:00",
        "2025-02-02T00:00:00.000000+00:00", "2025-02-03T00:00:00.000000+00:00"]


@pytest.fixture()
def sessions(database_url: str) -> Any:
    _, sessions = open_audited(database_url)
    with sessions.begin() as s:
        for actor, action, case in ENTRIES:
            audit.append(s, actor=actor, action=action, case_id=case, details={"n": 1})
    with sessions.begin() as s:  # times of our choosing (the chain no longer verifies; searching does not care)
        for seq, at in enumerate(DAYS):
            s.execute(update(AuditEventRow).where(AuditEventRow.seq == seq).values(at=at))
    return sessions


def seqs(sessions: Any, **wanted: Any) -> list[int]:
    with sessions() as s:
        return [e.seq for e in search(s, AuditFilter.of(**wanted)).entries]


@pytest.mark.parametrize(("wanted", "expected"), [
    ({}, [7, 6, 5, 4, 3, 2, 1, 0]),
    ({"case": "C1"}, [2, 1, 0]), ({"case": "c01"}, [2, 1, 0]), ({"case": "7"}, [6]), ({"case": "C99"}, []),
    ({"actor": "user:olga"}, [1, 0]), ({"actor": "rita"}, [6, 3, 2]), ({"actor": "RITA"}, [6, 3, 2]),
    ({"actor": "key:"}, [4]), ({"actor": "%"}, []), ({"actor": "_"}, []),  # wildcards are plain characters
    ({"action": "case.create"}, [3, 0]), ({"action": "case."}, [6, 3, 1, 0]), ({"action": "case.*"}, [6, 3, 1, 0]),
    ({"action": "case"}, []), ({"action": "c%"}, []), ({"action": "  case.close  "}, [6]),
    ({"since": parse_case_time("2025-01-31", end_of_day=False)}, [7, 6, 5, 4, 3, 2, 1]),
    ({"until": parse_case_time("2025-01-31", end_of_day=True)}, [3, 2, 1, 0]),  # a bare date: the whole day
    ({"since": parse_case_time("2025-01-31", end_of_day=False),
      "until": parse_case_time("2025-01-31", end_of_day=True)}, [3, 2, 1]),
    ({"since": parse_case_time("2025-01-31T12:30:00", end_of_day=False)}, [7, 6, 5, 4, 3, 2]),  # included
    ({"since": datetime(2025, 2, 1, 8, 0)}, [7, 6, 5]),  # no zone: UTC
    ({"case": "C1", "actor": "olga", "action": "case."}, [1, 0]),
    ({"case": "C2", "action": "case.*", "until": parse_case_time("2025-01-31", end_of_day=True)}, [3]),
    ({"actor": "", "action": " ", "case": None}, [7, 6, 5, 4, 3, 2, 1, 0]),  # empty means no filter
])
def test_each_filter_and_filters_together(sessions: Any, wanted: dict[str, Any], expected: list[int]) -> None:
    assert seqs(sessions, **wanted) == expected


def test_a_time_with_a_zone_is_compared_in_utc(sessions: Any) -> None:
    paris = timezone(timedelta(hours=1))
    assert seqs(sessions, since=datetime(2025, 2, 1, 9, 0, tzinfo=paris)) == [7, 6, 5]  # 08:00 UTC
    assert seqs(sessions, until=datetime(2025, 2, 1, 1, 0, tzinfo=paris)) == [4, 3, 2, 1, 0]


def test_the_result_carries_totals_and_the_actions(sessions: Any) -> None:
    with sessions() as s:
        found = search(s, AuditFilter.of(action="case."))
    assert (found.total, found.page, found.pages, found.newer, found.older) == (4, 1, 1, None, None)
    assert found.actions == ("case.authorise", "case.close", "case.create", "export.package", "retention.run",
                             "scan.start", "sighting.confirm")  # every action in the log, not only those shown
    assert found.filter == AuditFilter(action="case.")
    assert [e.action for e in found.entries] == ["case.close", "case.create", "case.authorise", "case.create"]
    assert found.entries[0].details == {"n": 1} and found.entries[0].case_id == "C7"
    with pytest.raises(AttributeError):
        found.total = 0  # type: ignore[misc]  # frozen


def test_pages_newest_first_with_totals(database_url: str) -> None:
    _, sessions = open_audited(database_url)
    with sessions.begin() as s:
        for i in range(2 * PAGE_SIZE + 7):
            audit.append(s, actor=f"user:p{i % 3}", action="case.update" if i % 2 else "case.create", case_id="C1")
    with sessions() as s:
        pages = [search(s, AuditFilter(), page) for page in (1, 2, 3)]
        odd = search(s, AuditFilter.of(action="case.update"), 2)
        empty = search(s, AuditFilter.of(case="C2"))
    assert [len(p.entries) for p in pages] == [PAGE_SIZE, PAGE_SIZE, 7]
    assert [p.entries[0].seq for p in pages] == [106, 56, 6] and pages[2].entries[-1].seq == 0
    assert all(p.total == 107 and p.pages == 3 for p in pages)
    assert (pages[0].newer, pages[0].older, pages[1].newer, pages[1].older, pages[2].older) == (None, 2, 1, 3, None)
    assert (odd.total, odd.pages, len(odd.entries), odd.entries[0].seq) == (53, 2, 3, 5)
    assert (empty.total, empty.pages, empty.entries) == (0, 1, ())  # nothing matches: one empty page
    with sessions() as s:
        with pytest.raises(PageError, match="there are 3 pages"):
            search(s, AuditFilter(), 4)
        with pytest.raises(BadInputError):
            search(s, AuditFilter(), 0)
        with pytest.raises(BadInputError):
            search(s, AuditFilter(), 2**70)  # never reaches the database as an offset
        assert [e.seq for e in matching(s, AuditFilter.of(action="case.update"))][:3] == [1, 3, 5]  # oldest first


@pytest.mark.parametrize(("wanted", "message"), [
    ({"case": "C1; drop table"}, "not a case id"), ({"case": "CX"}, "not a case id"),
    ({"case": "C" + "9" * 30}, "not a case id"), ({"case": "C٣"}, "not a case id"),
    ({"actor": "x" * 201}, "too long"), ({"action": "y" * 201}, "too long"), ({"case": "C" * 201}, "too long"),
    ({"actor": "a\nb"}, "control characters"), ({"action": "case\x00"}, "control characters"),
    ({"actor": "\ud800"}, "lone surrogate"),
    ({"since": datetime(2025, 2, 2, tzinfo=UTC), "until": datetime(2025, 2, 1, tzinfo=UTC)}, "after until"),
])
def test_bad_filters_are_refused_in_one_line(wanted: dict[str, Any], message: str) -> None:
    with pytest.raises(BadInputError, match=message) as refused:
        AuditFilter.of(**wanted)
    assert "\n" not in str(refused.value) and len(str(refused.value)) < 300


def test_the_longest_accepted_text_is_searched(sessions: Any) -> None:
    assert seqs(sessions, actor="x" * 200) == []
