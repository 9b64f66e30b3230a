"""The case life cycle: draft -> authorised -> active -> closed or expired.

Only an active case inside its validity window can be searched. When a case closes or expires, the
templates of the people it targeted are deleted, unless another case that is still authorised or
active targets the same person. Every change is audited in the same transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session, sessionmaker

from facesearch.audit import log as audit
from facesearch.audit.actions import AuditAction
from facesearch.cases import access
from facesearch.context import Context
from facesearch.errors import ConflictError, FacesearchError, ForbiddenError, NotFoundError, RefusedError
from facesearch.gallery.service import EnrolmentReport, IdentitySummary, enrol, find_identities, list_identities
from facesearch.refs import case_ref, parse_case_ref
from facesearch.settings import DEFAULT_MIN_REVIEWERS, DEFAULT_RECORDING_LOOKBACK_DAYS
from facesearch.store import sealed_text
from facesearch.store.notify import Channel, notify
from facesearch.store.schema import CameraRow, CaseRow, CaseTargetRow, TemplateRow
from facesearch.text import require_plain


class CaseStatus(StrEnum):
    DRAFT = "draft"
    AUTHORISED = "authorised"
    ACTIVE = "active"
    CLOSED = "closed"
    EXPIRED = "expired"


PURPOSES = ("missing-person", "victim", "suspect", "other")
LIVE = (CaseStatus.AUTHORISED, CaseStatus.ACTIVE)  # statuses whose targets keep their templates
ENDED = (CaseStatus.CLOSED, CaseStatus.EXPIRED)
AUTHORISATION_FIELDS = ("legal_basis", "authorisation_ref", "authorising_authority", "authorised_by")
# What makes a case authorised: the legal basis, the authorisation's reference and who gave it.
REQUIRED_FOR_AUTHORISATION = ("legal_basis", "authorisation_ref", "authorised_by")
# Limits every interface applies (the API's and the console's forms, the CLI's options) through this service.
TITLE_MAX = 300
TEXT_MAX = 2000  # purpose text and the authorisation fields
REVIEWERS_MAX = 10
# Free text that can name who is sought: sealed at rest (``store.sealed_text``) and never written to the
# audit log, which cannot be sealed after the fact (the entry says which of them were given).
SEALED_FIELDS = ("title", "purpose_text", "legal_basis")


def _for_audit(fields: dict[str, Any]) -> dict[str, Any]:
    """``fields`` without the sealed free text; ``sealed`` lists those that were given."""
    shown = {k: v for k, v in fields.items() if k not in SEALED_FIELDS}
    return shown | {"sealed": sorted(k for k in SEALED_FIELDS if fields.get(k))}


class CaseError(FacesearchError):
    """A case cannot be made or changed as asked (bad fields)."""


class CaseNotFound(CaseError, NotFoundError):
    """No case has this reference."""


class CaseRefused(CaseError, RefusedError):
    """The case's state or rules forbid the action (not active, outside its validity, camera not allowed)."""


class MissingAuthorisation(CaseRefused):
    """Authorisation fields are missing: ``missing`` holds their field names. ``str()`` names the fields (as the
    API's body does); an interface with other names for them (the CLI's flags) formats them with ``named``."""

    def __init__(self, subject: str, what: str, missing: Sequence[str]) -> None:
        self.what, self.missing = what, tuple(missing)
        super().__init__(subject, self.named(str))

    def named(self, name: Callable[[str], str]) -> str:
        """The reason with each field written as ``name(field)``, e.g. ``--legal-basis`` for ``legal_basis``."""
        return f"{self.what} {', '.join(name(f) for f in self.missing)}"


class CaseConflict(CaseError, ConflictError):
    """The action was done already (the case is closed or expired)."""


class CaseNotAssigned(CaseError, ForbiddenError):
    """Need to know: the searcher is not assigned to the case (``cases.access``)."""


class CameraNotRegistered(CaseError, NotFoundError):
    """A search names a camera that is not registered (``facesearch camera add``)."""


class CameraDisabled(CaseError, RefusedError):
    """A search names a camera an administrator disabled."""


@dataclass(frozen=True)
class Case:
    """A case as callers see it (``ref`` is ``C<id>``)."""

    ref: str
    title: str
    purpose: str
    status: CaseStatus  # a live case past its validity shows as expired before retention stores it so
    valid_from: datetime
    valid_until: datetime
    cameras: list[str]
    reviewers_required: int
    targets: list[int]
    fields: dict[str, Any]
    recorded_from: datetime  # the recording window: which recordings a search may cover (``recording_window``)
    recorded_until: datetime

    def to_json(self) -> dict[str, Any]:
        return {"id": self.ref, "title": self.title, "purpose": self.purpose, "status": self.status,
                "valid_from": self.valid_from.isoformat(), "valid_until": self.valid_until.isoformat(),
                "recorded_from": self.recorded_from.isoformat(), "recorded_until": self.recorded_until.isoformat(),
                "cameras": self.cameras, "reviewers_required": self.reviewers_required,
                "targets": self.targets, **self.fields}


def as_utc(t: datetime) -> datetime:
    """``t`` with a time zone (UTC when it has none: SQLite returns naive datetimes)."""
    return t if t.tzinfo is not None else t.replace(tzinfo=UTC)


def parse_case_time(value: str | date | datetime, *, end_of_day: bool) -> datetime:
    """A case's ``valid_from`` or ``valid_until`` as given by a person: a bare date (``2025-01-31``) means
    the whole day, so it starts at 00:00 and ends at 23:59:59.999999; a time without a zone is UTC.
    The CLI, the API and the console all read dates through here."""
    if isinstance(value, datetime):
        return as_utc(value)
    if isinstance(value, date):
        return datetime.combine(value, time.max if end_of_day else time.min, UTC)
    text = value.strip()
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise CaseError(text[:40], "not a date (expected YYYY-MM-DD or an ISO 8601 time)") from None
    if len(text) <= 10:  # a bare date: the whole day counts
        return datetime.combine(moment.date(), time.max if end_of_day else time.min, UTC)
    return as_utc(moment)



def default_recording_window(valid_from: datetime, valid_until: datetime,
                             lookback: timedelta = timedelta(days=DEFAULT_RECORDING_LOOKBACK_DAYS),
                             ) -> tuple[datetime, datetime]:
    """The widest recording window a case may have: ``lookback`` (the installation's
    ``recording_lookback_days``) before its validity starts, through the validity's end."""
    return as_utc(valid_from) - lookback, as_utc(valid_until)


def choose_recording_window(valid_from: datetime, valid_until: datetime, recorded_from: datetime | None,
                            recorded_until: datetime | None, lookback: timedelta) -> tuple[datetime, datetime]:
    """The one rule for a case's recording window (which recordings its searches may cover): the default
    (``default_recording_window``) unless the case narrows it; widening it beyond the default is refused,
    naming the field (it needs an authorisation of its own)."""
    earliest, latest = default_recording_window(valid_from, valid_until, lookback)
    start = earliest if recorded_from is None else as_utc(recorded_from)
    end = latest if recorded_until is None else as_utc(recorded_until)
    if start < earliest:
        raise CaseError("recorded_from", f"{start:%Y-%m-%d %H:%M} is before the widest recording window this "
                        f"installation allows ({lookback.days} days before valid from: {earliest:%Y-%m-%d %H:%M}); "
                        "a case may narrow its recording window; widening it needs its own authorisation "
                        "('case recording-window')")
    if end > latest:
        raise CaseError("recorded_until", f"{end:%Y-%m-%d %H:%M} is after valid until ({latest:%Y-%m-%d %H:%M}); "
                        "a case may narrow its recording window, widening it needs its own authorisation")
    if end <= start:
        raise CaseError("recorded_until", f"{end:%Y-%m-%d %H:%M} is not after recorded from {start:%Y-%m-%d %H:%M}")
    return start, end


def recording_window(row: CaseRow) -> tuple[datetime, datetime]:
    """The recordings ``row``'s searches may cover: as stored, or (a case made before the window existed,
    stored null) its validity, as when it was authorised: no look-back was authorised then. Such a case
    reaches further back through ``change_recording_window``, with an authorisation of its own."""
    return (as_utc(row.valid_from) if row.recorded_from is None else as_utc(row.recorded_from),
            as_utc(row.valid_until) if row.recorded_until is None else as_utc(row.recorded_until))


def _row(session: Session, ref: str | int, lock: bool = False) -> CaseRow:
    row = session.get(CaseRow, parse_case_ref(ref), with_for_update=lock)
    if row is None:
        raise CaseNotFound(str(ref), "no such case")
    return row


def effective_status(row: CaseRow, now: datetime | None = None) -> CaseStatus:
    """The case's status as of ``now``: a live case past its validity is expired, whether or not retention
    has run since (reading never writes; ``retention run`` and start-up store the expiry and audit it)."""
    status = CaseStatus(row.status)
    if status in LIVE and as_utc(row.valid_until) < as_utc(now or datetime.now(UTC)):
        return CaseStatus.EXPIRED
    return status


def to_case(session: Session, row: CaseRow) -> Case:
    targets = list(session.scalars(select(CaseTargetRow.identity_id).where(CaseTargetRow.case_id == row.id)))
    sealed = {k: sealed_text.get(session, row, k) for k in SEALED_FIELDS}
    return Case(case_ref(row.id), sealed["title"], row.purpose, effective_status(row), as_utc(row.valid_from),
                as_utc(row.valid_until),
                list(row.cameras), row.reviewers_required, sorted(targets),
                {k: sealed[k] if k in sealed else getattr(row, k) for k in (*AUTHORISATION_FIELDS, "purpose_text")},
                *recording_window(row))


def list_cases(sessions: sessionmaker[Session], newest_first: bool = False, *, actor: str) -> list[Case]:
    """The cases ``actor`` may see (``cases.access``: officers and reviewers, those they are assigned to)."""
    order = CaseRow.id.desc() if newest_first else CaseRow.id
    with sessions() as s:
        query = select(CaseRow).order_by(order)
        visible = access.visible_case_ids(s, actor)
        if visible is not None:
            query = query.where(CaseRow.id.in_(visible))
        return [to_case(s, r) for r in s.scalars(query)]


def get_case(sessions: sessionmaker[Session], ref: str, *, actor: str, contents: bool = False) -> Case:
    """The case ``ref`` (``CaseError`` when there is none), when ``actor`` may see it (with ``contents``:
    may see what it holds, its sightings and exports)."""
    with sessions() as s:
        row = _row(s, ref)
        access.check(s, actor, row.id, contents=contents)
        return to_case(s, row)


def create_case(
    sessions: sessionmaker[Session],
    *,
    title: str,
    purpose: str,
    actor: str,
    valid_until: datetime,
    valid_from: datetime | None = None,
    purpose_text: str | None = None,
    cameras: list[str] | None = None,
    reviewers_required: int | None = None,
    min_reviewers: int = DEFAULT_MIN_REVIEWERS,
    max_span: timedelta = timedelta(days=30),
    recorded_from: datetime | None = None,
    recorded_until: datetime | None = None,
    lookback: timedelta = timedelta(days=DEFAULT_RECORDING_LOOKBACK_DAYS),
    **authorisation: str | None,
) -> Case:
    """A new case: ``authorised`` when every authorisation field is given, else ``draft``. It needs
    ``reviewers_required`` distinct people to confirm a sighting: the installation's ``min_reviewers``
    when not given, never fewer. The officer who creates it is assigned to it. Its recording window
    (``choose_recording_window``: ``lookback`` before ``valid_from`` through ``valid_until``, or narrower) is
    stored as it is at creation."""
    unknown = set(authorisation) - set(AUTHORISATION_FIELDS)
    if unknown:
        raise CaseError(title, f"unknown fields {sorted(unknown)}")
    for field_name, value in {"title": title, "purpose_text": purpose_text, **authorisation}.items():
        require_plain(field_name, value)
    for camera in cameras or []:
        require_plain("cameras", camera)
    if not title.strip() or len(title) > TITLE_MAX:
        raise CaseError(title[:40], f"a title must be 1 to {TITLE_MAX} characters")
    too_long = [k for k, v in {"purpose_text": purpose_text, **authorisation}.items() if v and len(v) > TEXT_MAX]
    if too_long:
        raise CaseError(title, f"{', '.join(too_long)}: longer than {TEXT_MAX} characters")
    if purpose not in PURPOSES:
        raise CaseError(title, f"purpose {purpose!r} is not one of {', '.join(PURPOSES)}")
    if purpose == "other" and not purpose_text:
        raise CaseError(title, "purpose 'other' needs a description (purpose text)")
    start = as_utc(valid_from or datetime.now(UTC))
    end = as_utc(valid_until)
    if end <= start:
        raise CaseError(title, f"valid until {end:%Y-%m-%d %H:%M} is not after valid from {start:%Y-%m-%d %H:%M}")
    if end - start > max_span:
        days = (end - start) / timedelta(days=1)  # not .days: 30 days and 5 hours must not read as "30 days"
        raise CaseError(title, f"validity of {days:.2f} days exceeds the maximum of {max_span.days} days")
    window = choose_recording_window(start, end, recorded_from, recorded_until, lookback)
    if reviewers_required is None:
        reviewers_required = min_reviewers
    if not min_reviewers <= reviewers_required <= REVIEWERS_MAX:
        raise CaseError("reviewers_required", f"{reviewers_required} is outside {min_reviewers} to {REVIEWERS_MAX}: "
                        f"this installation requires at least {min_reviewers} distinct reviewers; a case may "
                        "require more, never fewer")
    complete = all(authorisation.get(f) for f in REQUIRED_FOR_AUTHORISATION)
    with sessions.begin() as s:
        row = CaseRow(title="", purpose=purpose, valid_from=start, valid_until=end,
                      recorded_from=window[0], recorded_until=window[1],
                      cameras=list(cameras or []), reviewers_required=reviewers_required,
                      status=CaseStatus.AUTHORISED if complete else CaseStatus.DRAFT, created_at=datetime.now(UTC),
                      created_by=actor,
                      **{f: authorisation.get(f) for f in AUTHORISATION_FIELDS if f not in SEALED_FIELDS})
        sealed_text.put(s, row, {"title": title, "purpose_text": purpose_text,
                                 "legal_basis": authorisation.get("legal_basis")})
        s.add(row)
        s.flush()
        access.assign_creator(s, row.id, actor)
        case = to_case(s, row)
        audit.append(s, actor=actor, action=AuditAction.CASE_CREATE, case_id=case.ref,
                     details=_for_audit(case.to_json()))
    return case


def authorise_case(sessions: sessionmaker[Session], ref: str, *, actor: str, **authorisation: str | None) -> Case:
    """Fill in a draft's authorisation fields; with all of them it becomes authorised."""
    unknown = set(authorisation) - set(AUTHORISATION_FIELDS)
    if unknown:
        raise CaseError(str(ref), f"unknown fields {sorted(unknown)}")
    for field_name, value in authorisation.items():
        require_plain(field_name, value)
    with sessions.begin() as s:
        row = _row(s, ref, lock=True)
        access.check(s, actor, row.id)
        if row.status not in (CaseStatus.DRAFT, CaseStatus.AUTHORISED):
            raise CaseRefused(case_ref(row.id), f"is {row.status}; its authorisation can no longer change")
        given = {k: v for k, v in authorisation.items() if v}
        if not given:  # nothing to record: refused, never an audited no-op that looks like success
            missing = _missing_authorisation(s, row)
            if missing:
                raise MissingAuthorisation(case_ref(row.id), "nothing given; still missing", missing)
            raise MissingAuthorisation(case_ref(row.id), "nothing given; give any of", AUTHORISATION_FIELDS)
        for key, value in given.items():
            if key in SEALED_FIELDS:
                sealed_text.put(s, row, {key: value})
            else:
                setattr(row, key, value)
        if not _missing_authorisation(s, row):
            row.status = CaseStatus.AUTHORISED
        audit.append(s, actor=actor, action=AuditAction.CASE_AUTHORISE, case_id=case_ref(row.id),
                     details={"fields": _for_audit(given), "status": row.status})
        return to_case(s, row)


def change_recording_window(sessions: sessionmaker[Session], ref: str, *, actor: str,
                            recorded_from: datetime | None = None, recorded_until: datetime | None = None,
                            **authorisation: str | None) -> Case:
    """Move a live case's recording window (which recordings its searches may cover). Narrowing it needs
    nothing more; widening it (an earlier start or a later end) needs the authorisation fields again
    (``REQUIRED_FOR_AUTHORISATION``), recorded in the audit entry with the window before and after. The end
    never passes the validity's end: a case searches nothing recorded after it may no longer be searched."""
    unknown = set(authorisation) - set(AUTHORISATION_FIELDS)
    if unknown:
        raise CaseError(str(ref), f"unknown fields {sorted(unknown)}")
    for field_name, value in authorisation.items():
        require_plain(field_name, value)
    if recorded_from is None and recorded_until is None:
        raise MissingAuthorisation(str(ref), "nothing given; give any of", ["recorded_from", "recorded_until"])
    with sessions.begin() as s:
        row = _row(s, ref, lock=True)
        access.check(s, actor, row.id)
        status = effective_status(row)
        if status not in (CaseStatus.DRAFT, *LIVE):
            raise CaseRefused(case_ref(row.id), f"is {status}; its recording window can no longer change")
        before = recording_window(row)
        start = before[0] if recorded_from is None else as_utc(recorded_from)
        end = before[1] if recorded_until is None else as_utc(recorded_until)
        if end > as_utc(row.valid_until):
            raise CaseError("recorded_until", f"{end:%Y-%m-%d %H:%M} is after valid until "
                            f"({as_utc(row.valid_until):%Y-%m-%d %H:%M})")
        if end <= start:
            raise CaseError("recorded_until", f"{end:%Y-%m-%d %H:%M} is not after recorded from {start:%Y-%m-%d %H:%M}")
        given = {k: v for k, v in authorisation.items() if v}
        widened = start < before[0] or end > before[1]
        missing = [f for f in REQUIRED_FOR_AUTHORISATION if f not in given]
        if widened and missing:
            raise MissingAuthorisation(case_ref(row.id), "widening the recording window needs its own "
                                       "authorisation; missing", missing)
        row.recorded_from, row.recorded_until = start, end
        audit.append(s, actor=actor, action=AuditAction.CASE_RECORDING_WINDOW, case_id=case_ref(row.id), details={
            "before": [before[0].isoformat(), before[1].isoformat()], "after": [start.isoformat(), end.isoformat()],
            "widened": widened, "authorisation": _for_audit(given)})
        return to_case(s, row)


def _missing_authorisation(s: Session, row: CaseRow) -> list[str]:
    return [f for f in REQUIRED_FOR_AUTHORISATION
            if not (sealed_text.get(s, row, f) if f in SEALED_FIELDS else getattr(row, f))]


def activate_case(sessions: sessionmaker[Session], ref: str, *, actor: str, now: datetime | None = None) -> Case:
    moment = as_utc(now or datetime.now(UTC))
    with sessions.begin() as s:
        row = _row(s, ref, lock=True)
        access.check(s, actor, row.id)
        if row.status != CaseStatus.AUTHORISED:
            if row.status == CaseStatus.DRAFT:
                raise MissingAuthorisation(case_ref(row.id), "only an authorised case can be activated; missing",
                                           _missing_authorisation(s, row))
            raise CaseRefused(case_ref(row.id), f"only an authorised case can be activated (it is {row.status})")
        if not as_utc(row.valid_from) <= moment <= as_utc(row.valid_until):
            window = f"{row.valid_from:%Y-%m-%d} to {row.valid_until:%Y-%m-%d}"
            raise CaseRefused(case_ref(row.id), f"outside its validity ({window})")
        row.status = CaseStatus.ACTIVE
        audit.append(s, actor=actor, action=AuditAction.CASE_ACTIVATE, case_id=case_ref(row.id))
        return to_case(s, row)


def close_case(sessions: sessionmaker[Session], ref: str, *, actor: str,
               status: CaseStatus = CaseStatus.CLOSED) -> Case:
    """Close (or expire) a case and delete its targets' templates that no other live case needs."""
    return close_case_counted(sessions, ref, actor=actor, status=status)[0]


def close_case_counted(sessions: sessionmaker[Session], ref: str, *, actor: str,
                       status: CaseStatus = CaseStatus.CLOSED) -> tuple[Case, int]:
    """``close_case``, and how many templates it deleted (as its audit entry records)."""
    with sessions.begin() as s:
        row = _row(s, ref, lock=True)
        access.check(s, actor, row.id)
        if row.status in ENDED:
            raise CaseConflict(case_ref(row.id), f"already {row.status}")
        row.status, row.ended_at = status, datetime.now(UTC)
        s.flush()
        notify(s, Channel.WATCH, case_ref(row.id))  # its running watches end now, not at their next poll
        deleted = _purge_templates(s, row.id)
        action = AuditAction.CASE_CLOSE if status == CaseStatus.CLOSED else AuditAction.CASE_EXPIRE
        audit.append(s, actor=actor, action=action,
                     case_id=case_ref(row.id), details={"templates_deleted": deleted})
        return to_case(s, row), deleted


def expire_cases(sessions: sessionmaker[Session], *, now: datetime | None = None) -> list[str]:
    """Expire every live case past its validity; returns their ids."""
    moment = as_utc(now or datetime.now(UTC))
    with sessions() as s:
        due = [case_ref(r.id) for r in s.scalars(select(CaseRow).where(CaseRow.status.in_(LIVE)))
               if as_utc(r.valid_until) < moment]
    for ref in due:
        close_case(sessions, ref, actor="system", status=CaseStatus.EXPIRED)
    return due


def _purge_templates(s: Session, case_id: int) -> int:
    targets = set(s.scalars(select(CaseTargetRow.identity_id).where(CaseTargetRow.case_id == case_id)))
    still_needed = set(s.scalars(
        select(CaseTargetRow.identity_id).join(CaseRow, CaseRow.id == CaseTargetRow.case_id)
        .where(CaseRow.status.in_(LIVE), CaseRow.id != case_id, CaseTargetRow.identity_id.in_(targets))))
    doomed = targets - still_needed
    if not doomed:
        return 0
    count = s.scalar(select(func.count()).select_from(TemplateRow).where(TemplateRow.identity_id.in_(doomed))) or 0
    s.execute(delete(TemplateRow).where(TemplateRow.identity_id.in_(doomed)))
    notify(s, Channel.GALLERY)  # every profile: index replicas elsewhere look again, at commit
    return int(count)


def enrol_into_case(ctx: Context, case: str, name: str, photos: Sequence[Path | bytes], *, actor: str,
                    **options: Any) -> EnrolmentReport:
    """Enrol ``name`` from ``photos`` into the watchlist of ``case`` (not closed or expired), in one
    transaction with the link to the case and the audit entry. ``options`` go to ``gallery.service.enrol``.

    A name already on this watchlist (compared as names are: case-folded, spaces collapsed) is that person:
    the photos join them rather than making a second person of the same name, whom reviewers could not tell
    apart. Two different people of one name in one case need names that tell them apart."""
    require_plain("name", name)
    with ctx.sessions() as s:
        row = require_open(s, case)  # refused before any photo is analysed
        access.check(s, actor, row.id, contents=True)
        ref = case_ref(row.id)
        targets = set(s.scalars(select(CaseTargetRow.identity_id).where(CaseTargetRow.case_id == row.id)))
    same_name = [p.id for p in find_identities(ctx.sessions, name) if p.id in targets] if targets else []

    def link(s: Session, identity_id: int) -> str:
        row = require_open(s, ref)  # checked again inside the transaction: it may have closed meanwhile
        if s.get(CaseTargetRow, (row.id, identity_id)) is None:
            s.add(CaseTargetRow(case_id=row.id, identity_id=identity_id))
        return ref

    return _enrol(ctx, name, photos, actor=actor, link=link, add_to=same_name[0] if same_name else None, **options)


def enrol_person(ctx: Context, name: str, photos: Sequence[Path | bytes], *, actor: str, case: str | None = None,
                 **options: Any) -> EnrolmentReport:
    """Enrol ``name`` from ``photos``: into ``case``'s watchlist when one is given, else into the gallery
    alone (people verified 1:1, never searched by a case). The CLI, the API and the console all enrol here."""
    if case:
        return enrol_into_case(ctx, case, name, photos, actor=actor, **options)
    return _enrol(ctx, name, photos, actor=actor, **options)


def list_people(sessions: sessionmaker[Session], *, actor: str, case: str | None = None,
                name: str | None = None) -> list[IdentitySummary]:
    """Enrolled people ``actor`` may see (of ``case``'s watchlist, when given; named ``name``, when given): the
    gallery's own, and those of the cases ``actor`` may see the contents of (``cases.access``)."""
    case_id = None
    if case is not None:
        with sessions() as s:
            case_id = _row(s, case).id
            access.check(s, actor, case_id, contents=True)
    found = list_identities(sessions, case_id) if name is None else find_identities(sessions, name)
    with sessions() as s:
        visible = access.visible_case_ids(s, actor, contents=True)
        links: dict[int, set[int]] = {}
        for identity_id, linked in s.execute(select(CaseTargetRow.identity_id, CaseTargetRow.case_id)):
            links.setdefault(identity_id, set()).add(linked)
    return [p for p in found
            if (case_id is None or case_id in links.get(p.id, set()))
            and (visible is None or not links.get(p.id) or links[p.id] & visible)]


def _enrol(ctx: Context, name: str, photos: Sequence[Path | bytes], *, actor: str, **options: Any) -> EnrolmentReport:
    return enrol(ctx.engine(), ctx.sessions, ctx.sealer, name, photos, actor=actor, cache=ctx.index_cache(),
                 **options)


def require_open(s: Session, ref: str) -> CaseRow:
    """A case people can still be added to (not closed or expired)."""
    row = _row(s, ref)
    status = effective_status(row)
    if status in ENDED:
        raise CaseRefused(case_ref(row.id), f"is {status}; nobody can be enrolled into it")
    return row


def require_searchable(s: Session, ref: str, now: datetime | None = None, camera: str | None = None, *,
                       actor: str) -> CaseRow:
    """The case, if ``actor`` may search it now (and on ``camera``); otherwise ``CaseError`` saying why.

    A case that names cameras is searched on one of them only: a search that names no camera is refused.
    A camera, when one is named, must be one the case allows and a registered one. The searcher must be
    assigned to the case (``cases.access``)."""
    moment = as_utc(now or datetime.now(UTC))
    row = _row(s, ref)
    try:
        access.check(s, actor, row.id, contents=True)
    except access.CaseForbidden as exc:
        raise CaseNotAssigned(exc.subject, exc.reason) from None
    if row.status != CaseStatus.ACTIVE:
        raise CaseRefused(case_ref(row.id), f"is {row.status}, not active: searching it is refused")
    if moment > as_utc(row.valid_until):
        raise CaseRefused(case_ref(row.id), f"expired on {row.valid_until:%Y-%m-%d %H:%M}: searching it is refused")
    if camera is None and row.cameras:
        shown = ", ".join(row.cameras[:10]) + (f" and {len(row.cameras) - 10} more" if len(row.cameras) > 10 else "")
        raise CaseRefused(case_ref(row.id), f"this case is limited to cameras {shown}: name one")
    if camera is not None:
        if row.cameras and camera not in row.cameras:
            raise CaseRefused(case_ref(row.id), f"camera {camera!r} is not allowed by this case")
        require_registered_camera(s, camera)
    return row


def require_registered_camera(s: Session, camera: str) -> None:
    """``CameraNotRegistered`` unless ``camera`` is a registered camera (not removed), ``CameraDisabled`` when
    it is disabled (read here rather than through
    ``video.cameras``, which sits above the cases)."""
    row = None if not camera or len(camera) > 100 or "\0" in camera else s.get(CameraRow, camera)
    if row is None or row.status == "removed":
        shown = camera[:100] if camera.isprintable() else repr(camera[:100])
        why = "was removed" if row is not None else "no such camera (facesearch camera add)"
        raise CameraNotRegistered(shown, why)
    if row.status == "disabled":
        raise CameraDisabled(camera, f"camera {camera} is disabled: nothing is searched on it until an "
                             "administrator enables it (facesearch camera enable)")
