"""Need to know: who may see a case and what it holds, the one rule every interface reaches through the services.

Officers and reviewers see a case, its people, sightings, evidence and exports only when they are assigned
to it (an administrator assigns them; the officer who creates a case is assigned to it at once).
Administrators and auditors see every case's record (what was authorised, by whom, until when: what
assigning and oversight need) but nothing in it: no sightings, evidence or exports (auditors read the
audit log). The rule is applied to the *actor* a service is given: ``user:<name>`` or ``key:<name>``, as
every interface names its caller (``Principal.actor``); the person behind it and their current role are
read from the accounts in the same transaction, so a disabled person or a dead key sees nothing. An
actor naming no account (``system``) is the services' own work (retention), never an interface's.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from facesearch.accounts.service import resolve_actor
from facesearch.audit import log as audit
from facesearch.audit.actions import AuditAction
from facesearch.errors import BadInputError, ForbiddenError, NotFoundError
from facesearch.refs import case_ref, parse_case_ref
from facesearch.store.schema import CaseAssignmentRow, CaseRow, UserRow

ASSIGNABLE = ("officer", "reviewer")  # roles that work on cases, each on the cases they are assigned to
OVERSIGHT = ("admin", "auditor")  # roles that see every case's record, and nothing in it
# Audit actions of this module (kept beside the rule until ``audit.actions`` names them).


class CaseForbidden(ForbiddenError):
    """Need to know: the caller is not assigned to the case (or their role sees no case contents)."""


class AssignmentError(BadInputError):
    """An assignment that cannot be made: the person's role is not one that works on cases."""


class AssignmentNotFound(NotFoundError):
    """No such case or person."""


def check(s: Session, actor: str, case_id: int, *, contents: bool = False) -> None:
    """``CaseForbidden`` unless ``actor`` may see case ``case_id`` (its record; with ``contents``, also its
    people, sightings, evidence and exports)."""
    who = resolve_actor(s, actor)
    if who is None:
        return
    person, role = who
    ref = case_ref(case_id)
    if role is None:
        raise CaseForbidden(ref, f"{actor} may not act: the account is disabled or the key no longer works")
    if role in ASSIGNABLE:
        if s.get(CaseAssignmentRow, (case_id, person)) is None:
            raise CaseForbidden(ref, f"{person} is not assigned to this case (an administrator assigns people)")
        return
    if role in OVERSIGHT and not contents:
        return
    raise CaseForbidden(ref, f"role {role!r} sees no case's sightings, evidence or exports")


def visible_case_ids(s: Session, actor: str, *, contents: bool = False) -> set[int] | None:
    """The ids of the cases ``actor`` may see (``None``: every case)."""
    who = resolve_actor(s, actor)
    if who is None:
        return None
    person, role = who
    if role in ASSIGNABLE:
        return set(s.scalars(select(CaseAssignmentRow.case_id).where(CaseAssignmentRow.username == person)))
    if role in OVERSIGHT and not contents:
        return None
    return set()


def assign_creator(s: Session, case_id: int, actor: str) -> None:
    """The person who created a case is assigned to it (in the creation's transaction)."""
    who = resolve_actor(s, actor)
    if who is not None and who[1] in ASSIGNABLE:
        s.add(CaseAssignmentRow(case_id=case_id, username=who[0], assigned_by=actor, assigned_at=datetime.now(UTC)))


@dataclass(frozen=True)
class Assignment:
    username: str
    role: str
    assigned_by: str
    assigned_at: datetime

    def to_json(self) -> dict[str, str]:
        return {"username": self.username, "role": self.role, "assigned_by": self.assigned_by,
                "assigned_at": self.assigned_at.isoformat()}


def _case(s: Session, ref: str) -> CaseRow:
    row = s.get(CaseRow, parse_case_ref(ref))
    if row is None:
        raise AssignmentNotFound(str(ref), "no such case")
    return row


def assignments(sessions: sessionmaker[Session], ref: str) -> list[Assignment]:
    """Who is assigned to case ``ref``."""
    with sessions() as s:
        row = _case(s, ref)
        found = s.execute(select(CaseAssignmentRow, UserRow.role).join(UserRow, UserRow.username ==
                                                                      CaseAssignmentRow.username)
                          .where(CaseAssignmentRow.case_id == row.id).order_by(CaseAssignmentRow.username)).all()
        return [Assignment(a.username, role, a.assigned_by,
                           a.assigned_at if a.assigned_at.tzinfo else a.assigned_at.replace(tzinfo=UTC))
                for a, role in found]


def assign(sessions: sessionmaker[Session], ref: str, username: str, *, actor: str) -> list[Assignment]:
    """Assign ``username`` (an officer or reviewer) to case ``ref``, audited; assigning again changes nothing."""
    with sessions.begin() as s:
        row = _case(s, ref)
        user = s.get(UserRow, username)
        if user is None:
            raise AssignmentNotFound(username[:100], "no such user")
        if user.role not in ASSIGNABLE:
            raise AssignmentError(username, f"is {user.role}: only officers and reviewers are assigned to cases")
        if s.get(CaseAssignmentRow, (row.id, username)) is None:
            s.add(CaseAssignmentRow(case_id=row.id, username=username, assigned_by=actor,
                                    assigned_at=datetime.now(UTC)))
            audit.append(s, actor=actor, action=AuditAction.CASE_ASSIGN, case_id=case_ref(row.id),
                         subject=f"user:{username}",
                         details={"role": user.role})
    return assignments(sessions, ref)


def unassign(sessions: sessionmaker[Session], ref: str, username: str, *, actor: str) -> list[Assignment]:
    """Take ``username`` off case ``ref``, audited; from now on they see nothing of it."""
    with sessions.begin() as s:
        row = _case(s, ref)
        found = s.get(CaseAssignmentRow, (row.id, username))
        if found is None:
            raise AssignmentNotFound(username[:100], f"is not assigned to {case_ref(row.id)}")
        s.delete(found)
        audit.append(s, actor=actor, action=AuditAction.CASE_UNASSIGN, case_id=case_ref(row.id),
                     subject=f"user:{username}")
    return assignments(sessions, ref)
