"""The audit log in the database: appends in the caller's transaction, keyed by the installation's audit key,
and a signed checkpoint outside the database after each commit that appended.

An append happens inside the same transaction as the action it records, so an action and its entry
are committed together or not at all. The head row is locked while appending (``SELECT ... FOR UPDATE``
on PostgreSQL; every SQLite transaction holds the database's write lock from its start, ``store.db``), which
keeps the chain linear under concurrent writers. The head row exists before the first entry (seq -1, the
genesis hash), so the very first appends have a row to lock too. It also carries the Merkle tree's right
edge, so each append knows the new root without reading the log.

The audit key and the checkpoint log travel with the session factory (``attach``): every session the
process opens appends with them, and a session factory without them cannot append at all.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import event as sa_event
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from facesearch.audit.chain import GENESIS_HASH, AuditEvent, JsonValue, next_event
from facesearch.audit.checkpoints import Checkpoint, CheckpointLog, new_checkpoint
from facesearch.audit.keys import AuditKey, AuditKeyError
from facesearch.audit.merkle import frontier_append, frontier_root, leaf_hash
from facesearch.store.schema import AuditEventRow, AuditHeadRow

log = logging.getLogger(__name__)

_HEAD_ID = 1
_TRAIL = "facesearch.audit.trail"
_PENDING = "facesearch.audit.pending_checkpoint"


@dataclass(frozen=True)
class AuditTrail:
    """What appending needs besides the database: the key, and where checkpoints go (``None``: nowhere, for
    tools that read another installation's log)."""

    key: AuditKey
    checkpoints: CheckpointLog | None = None


def attach(sessions: sessionmaker[Session], trail: AuditTrail) -> sessionmaker[Session]:
    """Make every session of ``sessions`` append with ``trail`` and checkpoint after each commit."""
    sessions.configure(info={**(sessions.kw.get("info") or {}), _TRAIL: trail})  # keeps what others put there
    sa_event.listen(sessions, "after_commit", _write_checkpoint)
    sa_event.listen(sessions, "after_soft_rollback", _forget_checkpoint)
    return sessions


def attached(sessions: sessionmaker[Session]) -> bool:
    return isinstance(sessions.kw.get("info", {}).get(_TRAIL), AuditTrail)


def trail_of(session: Session) -> AuditTrail:
    trail = session.info.get(_TRAIL)
    if not isinstance(trail, AuditTrail):
        raise AuditKeyError("audit log", "this database was opened without the audit key; nothing can be "
                            "appended (open it through facesearch.context.Context)")
    return trail


def to_event(row: AuditEventRow) -> AuditEvent:
    return AuditEvent(seq=row.seq, at=row.at, actor=row.actor, action=row.action, case_id=row.case_id,
                      subject=row.subject, details=dict(row.details), prev_hash=row.prev_hash, hash=row.hash,
                      key_id=row.key_id)


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
    trail = trail_of(session)
    head = _locked_head(session)
    frontier = _frontier(session, head)
    previous = None if head.seq < 0 else AuditEvent(seq=head.seq, at="", actor="", action="", hash=head.hash)
    event = next_event(previous, trail.key, actor=actor, action=action, case_id=case_id, subject=subject,
                       details=details)
    session.add(AuditEventRow(seq=event.seq, at=event.at, actor=event.actor, action=event.action,
                              case_id=event.case_id, subject=event.subject, details=dict(event.details),
                              prev_hash=event.prev_hash, hash=event.hash, key_id=event.key_id))
    frontier = frontier_append(frontier, leaf_hash(event.leaf_bytes()))
    head.seq, head.hash, head.updated = event.seq, event.hash, datetime.now(UTC)
    head.frontier, head.key_id = frontier, trail.key.key_id
    session.flush()
    session.info[_PENDING] = (event.seq + 1, event.hash, frontier_root(frontier))
    return event


def _frontier(session: Session, head: AuditHeadRow) -> list[str | None]:
    """The head's Merkle frontier; for a log written before the tree existed, built once from its entries."""
    if head.frontier is not None or head.seq < 0:
        return list(head.frontier or [])
    frontier: list[str | None] = []
    for past in events(session):
        frontier = frontier_append(frontier, leaf_hash(past.leaf_bytes()))
    return frontier


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


def _write_checkpoint(session: Session) -> None:
    pending = session.info.pop(_PENDING, None)
    trail = session.info.get(_TRAIL)
    if pending is None or not isinstance(trail, AuditTrail) or trail.checkpoints is None:
        return
    size, head, root = pending
    try:
        trail.checkpoints.append(new_checkpoint(trail.key, size, head, root))
    except OSError as exc:
        # The entry is committed; a missing checkpoint only means the next one covers it too. Say so loudly.
        log.error("audit checkpoint for %d entries not written: %s", size, exc)


def _forget_checkpoint(session: Session, _previous: Any) -> None:
    # Any rollback, a savepoint's too, may have taken the appended entry with it: no checkpoint this time
    # rather than one of a head that was never committed (the next commit's checkpoint covers everything).
    session.info.pop(_PENDING, None)


def checkpoint_now(session: Session) -> Checkpoint:
    """A checkpoint of the log as this session sees it (for an export), also added to the checkpoint file."""
    trail = trail_of(session)
    head = session.get(AuditHeadRow, _HEAD_ID)
    if head is None or head.seq < 0:
        raise AuditKeyError("audit log", "the log is empty; there is nothing to checkpoint")
    checkpoint = new_checkpoint(trail.key, head.seq + 1, head.hash, frontier_root(_frontier(session, head)))
    if trail.checkpoints is not None:
        trail.checkpoints.append(checkpoint)
    return checkpoint


def events(session: Session, case_id: str | None = None, *, upto: int | None = None) -> Iterator[AuditEvent]:
    """Entries in order (all, or one case's; with ``upto``, those before that sequence number), streamed."""
    query = select(AuditEventRow).order_by(AuditEventRow.seq)
    if case_id is not None:
        query = query.where(AuditEventRow.case_id == case_id)
    if upto is not None:
        query = query.where(AuditEventRow.seq < upto)
    for row in session.scalars(query.execution_options(yield_per=1000)):
        yield to_event(row)


def entry_count(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(AuditEventRow)) or 0)


def recorded_head(session: Session) -> tuple[int, str] | None:
    """The head row's (seq, hash): ``None`` when there is no row or it says the log is empty."""
    head = session.get(AuditHeadRow, _HEAD_ID)
    return None if head is None or head.seq < 0 else (head.seq, head.hash)


def head_row_present(session: Session) -> bool:
    return session.get(AuditHeadRow, _HEAD_ID) is not None


def describe(session: Session) -> dict[str, Any]:
    """The trail this session appends with: key id and checkpoint file (for ``doctor`` and ``init``)."""
    trail = trail_of(session)
    return {"audit_key_id": trail.key.key_id,
            "checkpoints": None if trail.checkpoints is None else str(trail.checkpoints.path)}
