"""Review: a candidate sighting becomes a confirmed one only when enough people agree.

Confirmation takes the number of distinct people the case requires (at least the installation's minimum,
default 2, the "four eyes" of the EU AI Act, Art. 14(5)), none of whom enrolled the person, each signed in
with their own account; a single rejection closes the sighting
as rejected. Each decision is audited in the same transaction with who made it, when, and what they
were shown (the evidence's hashes), and nothing is ever done automatically on a match.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from facesearch.accounts.service import person_of
from facesearch.audit import log as audit
from facesearch.audit.actions import AuditAction
from facesearch.cases import access
from facesearch.errors import ConflictError, FacesearchError, ForbiddenError, NotFoundError, RefusedError
from facesearch.refs import case_ref
from facesearch.settings import DEFAULT_MIN_REVIEWERS
from facesearch.store import sealed_text
from facesearch.store.schema import CaseRow, EvidenceRow, IdentityRow, ReviewRow, SightingRow, TemplateRow


class ReviewDecision(StrEnum):
    CONFIRM = "confirm"
    REJECT = "reject"


class SightingStatus(StrEnum):
    CANDIDATE = "candidate"  # every match starts here: a candidate until people decide
    CONFIRMED = "confirmed"
    REJECTED = "rejected"


DECISIONS = tuple(d.value for d in ReviewDecision)


class ReviewError(FacesearchError):
    """A review that is not allowed: unknown sighting, already decided, or the wrong reviewer."""


class SightingNotFound(ReviewError, NotFoundError):
    """No sighting has this id."""


class ReviewConflict(ReviewError, ConflictError):
    """Decided already: the sighting, or this reviewer's part in it."""


class ReviewForbidden(ReviewError, ForbiddenError):
    """Not a person signed in with their own account (an API key), or an account that may no longer act."""


class ReviewRefused(ReviewError, RefusedError):
    """The rules forbid this reviewer's decision (they enrolled the person)."""


@dataclass(frozen=True)
class ReviewOutcome:
    sighting_id: int
    decision: str
    status: str  # the sighting's status after this decision
    confirmations: int
    required: int

    def to_json(self) -> dict[str, Any]:
        return {"sighting": self.sighting_id, "decision": self.decision, "status": self.status,
                "confirmations": self.confirmations, "required": self.required}


def review(sessions: sessionmaker[Session], sighting_id: int, *, reviewer: str, decision: str,
           note: str | None = None, min_reviewers: int = DEFAULT_MIN_REVIEWERS) -> ReviewOutcome:
    """Record ``reviewer``'s ``decision`` ("confirm" or "reject") on a candidate sighting.

    ``reviewer`` is the actor (``user:rita``): a person signed in with their own account, never an API
    key, assigned to the sighting's case. People are counted, not credentials (``accounts.person_of``):
    nobody confirms twice, and nobody reviews a person they enrolled, through any credential of theirs.
    Confirmation takes the case's number of reviewers, and never fewer than the installation's
    ``min_reviewers`` (which binds cases made before it was raised too)."""
    subject = f"sighting {sighting_id}"
    if decision not in DECISIONS:
        raise ReviewError(subject, f"decision {decision!r} is not one of {', '.join(DECISIONS)}")
    if reviewer.startswith("key:"):
        raise ReviewForbidden(subject, f"{reviewer} is an API key: only a person signed in with their own account "
                                       "may confirm or reject")
    with sessions.begin() as s:
        row = s.get(SightingRow, sighting_id, with_for_update=True)
        if row is None:
            raise SightingNotFound(subject, "no such sighting")
        if row.status != SightingStatus.CANDIDATE:
            raise ReviewConflict(subject, f"is already {row.status}")
        case = s.get(CaseRow, row.case_id)
        identity = s.get(IdentityRow, row.identity_id)
        assert case is not None and identity is not None
        access.check(s, reviewer, row.case_id, contents=True)  # a disabled account, or one not assigned: refused
        person = person_of(s, reviewer)
        if person == person_of(s, identity.created_by):
            raise ReviewRefused(subject, f"{person} enrolled identity {identity.id}, so cannot review its sightings")
        earlier = list(s.scalars(select(ReviewRow).where(ReviewRow.sighting_id == sighting_id)))
        if any(person_of(s, r.reviewer) == person for r in earlier):
            raise ReviewConflict(subject, f"{person} has reviewed it already; another person must")
        seen = {"evidence_sha256": {e.kind: e.sha256 for e in s.scalars(
                    select(EvidenceRow).where(EvidenceRow.sighting_id == sighting_id))},
                "enrolment_photos": int(s.scalar(select(func.count()).select_from(TemplateRow)
                                                 .where(TemplateRow.identity_id == row.identity_id)) or 0),
                "score": round(row.score, 6), "fmr": float(f"{row.fmr:.3g}")}
        review_row = ReviewRow(sighting_id=sighting_id, reviewer=reviewer, decision=decision, seen=seen,
                               at=datetime.now(UTC))
        sealed_text.put(s, review_row, {"note": note})  # a note may name the person: sealed, like names
        s.add(review_row)
        s.flush()
        confirmations = len({person_of(s, r.reviewer) for r in [*earlier, review_row]
                             if r.decision == ReviewDecision.CONFIRM})
        required = max(case.reviewers_required, min_reviewers)
        if decision == ReviewDecision.REJECT:
            row.status = SightingStatus.REJECTED
        elif confirmations >= required:
            row.status = SightingStatus.CONFIRMED
        outcome = ReviewOutcome(sighting_id, decision, row.status, confirmations, required)
        action = AuditAction.SIGHTING_CONFIRM if decision == ReviewDecision.CONFIRM else AuditAction.SIGHTING_REJECT
        audit.append(s, actor=reviewer, action=action, case_id=case_ref(row.case_id),
                     subject=f"sighting:{sighting_id}", details={**outcome.to_json(), "noted": bool(note), "seen": seen,
                                                                 "identity_id": row.identity_id})
    return outcome


@dataclass(frozen=True)
class ReviewRecord:
    reviewer: str
    decision: str
    note: str | None
    at: datetime


def reviews_of(s: Session, sighting_id: int) -> list[ReviewRecord]:
    return [ReviewRecord(r.reviewer, r.decision, sealed_text.get(s, r, "note"),
                         r.at if r.at.tzinfo else r.at.replace(tzinfo=UTC))
            for r in s.scalars(select(ReviewRow).where(ReviewRow.sighting_id == sighting_id).order_by(ReviewRow.id))]


@dataclass(frozen=True)
class ReviewProgress:
    """How far a candidate sighting is on its way to confirmed: who has confirmed it (people, in order) and
    how many confirmations it needs in all (the case's number, or the installation's minimum when higher)."""

    confirmed_by: list[str]
    required: int

    @property
    def still_needed(self) -> int:
        return max(0, self.required - len(self.confirmed_by))


def review_progress(s: Session, sighting_ids: list[int], *,
                    min_reviewers: int = DEFAULT_MIN_REVIEWERS) -> dict[int, ReviewProgress]:
    """The progress of each sighting in ``sighting_ids`` (the caller has checked need to know, as the
    review queue does), by the same count ``review`` makes: each person once, confirmations only."""
    if not sighting_ids:
        return {}
    rows = s.execute(select(SightingRow.id, CaseRow.reviewers_required).join(CaseRow, CaseRow.id == SightingRow.case_id)
                     .where(SightingRow.id.in_(sighting_ids))).all()
    confirmed: dict[int, list[str]] = {sid: [] for sid, _ in rows}
    for r in s.scalars(select(ReviewRow).where(ReviewRow.sighting_id.in_(sighting_ids),
                                               ReviewRow.decision == ReviewDecision.CONFIRM).order_by(ReviewRow.id)):
        person = person_of(s, r.reviewer)
        if person not in confirmed[r.sighting_id]:
            confirmed[r.sighting_id].append(person)
    return {sid: ReviewProgress(confirmed[sid], max(required, min_reviewers)) for sid, required in rows}
