"""The audit log in the database: appends in the caller's transaction, verification of the whole chain.

An append happens inside the same transaction as the action it records, so an action and its entry
are committed together or not at all. The head row is locked while appending (``SELECT ... FOR UPDATE``
on PostgreSQL; every SQLite transaction holds the database's write lock from its start, ``store.db``), which
keeps the chain linear under concurrent writers. The head row exists before the first entry (seq -1, the
genesis hash), so the very first appends have a row to lock too.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from facesearch.audit.chain import (
    GENESIS_HASH,
    AuditEvent,
    ChainVerification,
    JsonValue,
    next_event,
    verify_chain,
)
from facesearch.store.schema import AuditEventRow, AuditHeadRow

_HEAD_ID = 1


def _to_event(row: AuditEventRow) -> AuditEvent:
    return AuditEvent(seq=row.seq, at=row.at, actor=row.actor, action=row.action, case_id=row.case_id,
                      subject=row.subject, details=dict(row.details), prev_hash=row.prev_hash, hash=row.hash)


def append(
    session: Session,
    *,
    actor: str,
    action: str,
    case_id: str | None = None,
    subject: str | None = None,
    details: Mapping[str, JsonValue] | None = None,
) -> AuditEvent:
    """Add an entry after the current head, in ``session``'s transaction."""
    head = _locked_head(session)
    previous = None if head.seq < 0 else AuditEvent(seq=head.seq, at="", actor="", action="", hash=head.hash)
    event = next_event(previous, actor=actor, action=action, case_id=case_id, subject=subject, details=details)
    session.add(AuditEventRow(seq=event.seq, at=event.at, actor=event.actor, action=event.action,
                              case_id=event.case_id, subject=event.subject, details=dict(event.details),
                              prev_hash=event.prev_hash, hash=event.hash))
    head.seq, head.hash, head.updated = event.seq, event.hash, datetime.now(UTC)
    session.flush()
    return event


def _locked_head(session: Session) -> AuditHeadRow:
    """The head row, locked for this transaction; made (empty: seq -1) when the log has none yet. Two writers
    that both find none race to make it: the loser's insert fails inside its savepoint, and it waits for and
    then locks the winner's row."""
    head = session.get(AuditHeadRow, _HEAD_ID, with_for_update=True)
    if head is not None:
        return head
    try:
        with session.begin_nested():
            session.add(AuditHeadRow(id=_HEAD_ID, seq=-1, hash=GENESIS_HASH, updated=datetime.now(UTC)))
    except IntegrityError:
        pass
    head = session.get(AuditHeadRow, _HEAD_ID, with_for_update=True, populate_existing=True)
    assert head is not None
    return head


def events(session: Session, case_id: str | None = None) -> Iterator[AuditEvent]:
    """Entries in order (all, or one case's), streamed."""
    query = select(AuditEventRow).order_by(AuditEventRow.seq)
    if case_id is not None:
        query = query.where(AuditEventRow.case_id == case_id)
    for row in session.scalars(query.execution_options(yield_per=1000)):
        yield _to_event(row)


def verify(session: Session) -> ChainVerification:
    """Check the whole chain against its recorded head."""
    head = session.get(AuditHeadRow, _HEAD_ID)
    expected = None if head is None or head.seq < 0 else (head.seq, head.hash)
    return verify_chain(events(session), expected_head=expected)
