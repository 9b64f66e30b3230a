"""The audit log, searched: entries filtered by case, actor, action and time, newest first, a page at a time.

Everything is done in SQL (the log may hold millions of entries): the filter is one ``WHERE``, the total one
``COUNT``, a page one ``ORDER BY seq DESC LIMIT 50 OFFSET ...``, and the distinct actions (for a filter's
drop-down) a walk over the ``action`` index that reads one row per action, not one per entry.

The filters (``AuditFilter.of`` checks them and says in one line what is wrong):

- ``case``: a case reference (``C7``, ``c07``, ``7``), read by ``facesearch.refs``; entries about that case.
- ``actor``: a part of the actor, any letter case: ``rita`` finds ``user:rita`` (and ``user:margarita``;
  ``user:rita`` narrows it).
- ``action``: one action (``case.create``), or every action starting with a prefix when it ends with ``.``
  or ``*`` (``case.`` and ``case.*`` find ``case.create``, ``case.activate``, ...).
- ``since`` / ``until``: moments, both included. They arrive as datetimes: the interfaces read text with the
  one date rule (``facesearch.cases.service.parse_case_time``: a bare date is the whole day), which this
  layer cannot import.

Example::

    with sessions() as s:
        found = search(s, AuditFilter.of(case="C7", action="case."), page=1)
        found.total, found.pages, [e.seq for e in found.entries]
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, func, select, true
from sqlalchemy.orm import Session

from facesearch.audit.chain import AuditEvent
from facesearch.audit.log import to_event
from facesearch.errors import BadInputError
from facesearch.paging import pages_for
from facesearch.refs import RefKind, normalise_ref
from facesearch.store.schema import AuditEventRow as E
from facesearch.text import require_plain

PAGE_SIZE = 50
TEXT_MAX = 200  # the longest actor or action searched for (the columns hold at most 200 and 100)


class AuditQueryError(BadInputError):
    """A filter or page that cannot be searched for."""


def clean_text(field: str, value: str | None) -> str | None:
    """``value`` stripped (``None`` when empty), refused when too long or not plain text."""
    if value is None or not value.strip():
        return None
    if len(value) > TEXT_MAX:
        raise AuditQueryError(field, f"is too long ({len(value)} characters; at most {TEXT_MAX})")
    require_plain(field, value)  # control characters and lone surrogates: not something the log holds
    return value.strip()


def _utc(moment: datetime | None) -> datetime | None:
    return None if moment is None else (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC)


def _action_condition(action: str) -> ColumnElement[bool]:
    if action.endswith("*"):  # case.* : every action under case.
        return E.action.startswith(action[:-1], autoescape=True)
    if action.endswith("."):  # case. : the same
        return E.action.startswith(action, autoescape=True)
    return E.action == action


@dataclass(frozen=True)
class AuditFilter:
    """Which entries to show; every field ``None`` shows them all. Build it with ``of``, which checks it."""

    case: str | None = None  # canonical: C7
    actor: str | None = None
    action: str | None = None
    since: datetime | None = None  # UTC, included
    until: datetime | None = None  # UTC, included

    @classmethod
    def of(cls, *, case: str | None = None, actor: str | None = None, action: str | None = None,
           since: datetime | None = None, until: datetime | None = None) -> AuditFilter:
        """The filter, checked: empty text means no filter; anything malformed is an ``AuditQueryError``."""
        case_text = clean_text("case", case)
        start, end = _utc(since), _utc(until)
        if start is not None and end is not None and start > end:
            raise AuditQueryError("from", f"is after until ({start.isoformat()} > {end.isoformat()})")
        return cls(case=None if case_text is None else normalise_ref(case_text, RefKind.CASE),
                   actor=clean_text("actor", actor), action=clean_text("action", action), since=start, until=end)

    @property
    def active(self) -> bool:
        return any(v is not None for v in (self.case, self.actor, self.action, self.since, self.until))

    def where(self) -> ColumnElement[bool]:
        """The filter as one SQL condition over ``audit_events``."""
        terms: list[ColumnElement[bool]] = []
        if self.case is not None:
            terms.append(E.case_id == self.case)
        if self.actor is not None:
            terms.append(func.lower(E.actor).contains(self.actor.lower(), autoescape=True))
        if self.action is not None:
            terms.append(_action_condition(self.action))
        # ``at`` is stored as ISO 8601 in UTC with microseconds, so text order is time order.
        if self.since is not None:
            terms.append(E.at >= self.since.isoformat(timespec="microseconds"))
        if self.until is not None:
            terms.append(E.at <= self.until.isoformat(timespec="microseconds"))
        return and_(true(), *terms)


@dataclass(frozen=True)
class AuditPage:
    """One page of matching entries, newest first, with what a page needs to draw its filter and its paging."""

    entries: tuple[AuditEvent, ...]
    total: int  # entries matching the filter, on every page
    page: int  # 1 is the newest
    pages: int  # at least 1, even when nothing matches
    actions: tuple[str, ...]  # every action the log holds, in order (for a drop-down)
    filter: AuditFilter

    @property
    def newer(self) -> int | None:
        return self.page - 1 if self.page > 1 else None

    @property
    def older(self) -> int | None:
        return self.page + 1 if self.page < self.pages else None


def search(session: Session, wanted: AuditFilter, page: int = 1, *, page_size: int = PAGE_SIZE) -> AuditPage:
    """Page ``page`` (1: the newest) of the entries ``wanted`` matches; a page past the last is refused."""
    condition = wanted.where()
    total = int(session.scalar(select(func.count()).select_from(E).where(condition)) or 0)
    pages = pages_for(total, page_size, page)
    rows = session.scalars(select(E).where(condition).order_by(E.seq.desc())
                           .limit(page_size).offset((page - 1) * page_size))
    return AuditPage(entries=tuple(to_event(r) for r in rows), total=total, page=page, pages=pages,
                     actions=distinct_actions(session), filter=wanted)


def matching(session: Session, wanted: AuditFilter) -> Iterator[AuditEvent]:
    """Every entry ``wanted`` matches, oldest first, streamed (the API's listing)."""
    query = select(E).where(wanted.where()).order_by(E.seq).execution_options(yield_per=1000)
    for row in session.scalars(query):
        yield to_event(row)


def distinct_actions(session: Session) -> tuple[str, ...]:
    """The actions the log holds, in order. A loose index scan (a recursive query that jumps from one action
    to the next through the ``action`` index), so its cost grows with the number of actions, not of entries."""
    first = select(func.min(E.action).label("action")).cte("actions", recursive=True)
    following = select(select(func.min(E.action)).where(E.action > first.c.action).scalar_subquery())
    walk = first.union_all(following.where(first.c.action.is_not(None)))
    found: list[Any] = list(session.scalars(select(walk.c.action).where(walk.c.action.is_not(None))))
    return tuple(str(a) for a in found)
