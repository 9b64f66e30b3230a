"""A keyed hash chain over audit events: any changed, removed or reordered entry breaks it.

Each event's hash is ``HMAC-SHA256(audit MAC key, previous hash + canonical JSON of the event)``, the
event naming the audit key it was written with (``key_id``). Without the key nobody can write an entry
that verifies, or recompute the chain after an edit. Canonical JSON (sorted keys, no spaces, UTF-8) makes
the hash independent of how a store happened to serialise the event. Entries written before the chain was
keyed (no ``key_id``) were hashed with plain SHA-256; they may only come before every keyed entry, and the
signed checkpoints (``checkpoints``) cover them like the rest.

The chain alone cannot reveal that its newest entries were cut off; callers keep the head (sequence
number and hash) somewhere else too and pass it to ``verify_chain`` as ``expected_head``.

This module is storage-free: the database layer stores ``AuditEvent`` rows and calls it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from facesearch.audit.keys import AuditKey

GENESIS_HASH = "0" * 64

JsonValue = Any  # JSON-serialisable: str, int, float, bool, None, lists and dicts of them


def canonical_json(value: Mapping[str, JsonValue]) -> bytes:
    """One byte string per value, whatever the key order or spacing it arrived with."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()


@dataclass(frozen=True)
class AuditEvent:
    """One entry of the audit log. ``details`` holds the action's own fields (JSON-serialisable)."""

    seq: int
    at: str  # ISO 8601, UTC
    actor: str
    action: str
    case_id: str | None = None
    subject: str | None = None
    details: Mapping[str, JsonValue] = field(default_factory=dict)
    prev_hash: str = GENESIS_HASH
    hash: str = ""
    key_id: str | None = None  # the audit key that keyed this link; None for an entry from before keying

    def payload(self) -> dict[str, JsonValue]:
        """What the hash covers: everything but the hash itself."""
        payload: dict[str, JsonValue] = {
            "seq": self.seq,
            "at": self.at,
            "actor": self.actor,
            "action": self.action,
            "case_id": self.case_id,
            "subject": self.subject,
            "details": dict(self.details),
            "prev_hash": self.prev_hash,
        }
        if self.key_id is not None:
            payload["key_id"] = self.key_id
        return payload

    def to_json(self) -> dict[str, JsonValue]:
        """The entry as it is shown and exported: what the hash covers, and the hash."""
        return {**self.payload(), "hash": self.hash}

    def leaf_bytes(self) -> bytes:
        """What the Merkle tree's leaf covers: the whole entry as exported, hash included."""
        return canonical_json(self.to_json())

    def computed_hash(self, key: AuditKey | None = None) -> str:
        """The link this entry should carry: keyed with ``key`` (which must be the one it names), or plain
        SHA-256 for an entry from before keying."""
        message = self.prev_hash.encode() + b"\n" + canonical_json(self.payload())
        if self.key_id is None:
            return hashlib.sha256(message).hexdigest()
        if key is None or key.key_id != self.key_id:
            raise ValueError(f"entry {self.seq} was keyed with audit key {self.key_id}; that key is not at hand")
        return key.mac(message)


def next_event(
    head: AuditEvent | None,
    key: AuditKey,
    *,
    actor: str,
    action: str,
    case_id: str | None = None,
    subject: str | None = None,
    details: Mapping[str, JsonValue] | None = None,
    at: datetime | None = None,
) -> AuditEvent:
    """The event that follows ``head`` (``None`` for the first event), with its hash filled in."""
    moment = (at or datetime.now(UTC)).astimezone(UTC).isoformat(timespec="microseconds")
    draft = AuditEvent(
        seq=0 if head is None else head.seq + 1,
        at=moment,
        actor=actor,
        action=action,
        case_id=case_id,
        subject=subject,
        details=dict(details or {}),
        prev_hash=GENESIS_HASH if head is None else head.hash,
        key_id=key.key_id,
    )
    canonical_json(draft.payload())  # refuse what cannot be hashed now, not at verification time
    return AuditEvent(**{**draft.__dict__, "hash": draft.computed_hash(key)})


@dataclass(frozen=True)
class ChainVerification:
    """The outcome of checking a chain: ``ok``, or the first entry at fault and why."""

    ok: bool
    checked: int
    first_bad_seq: int | None = None
    reason: str = ""

    def to_json(self) -> dict[str, JsonValue]:
        return {"ok": self.ok, "checked": self.checked, "first_bad_seq": self.first_bad_seq, "reason": self.reason}


def verify_chain(
    events: Iterable[AuditEvent], key: AuditKey | None, expected_head: tuple[int, str] | None = None
) -> ChainVerification:
    """Check every link in storage order, keyed links with ``key``.

    Finds a changed entry (its hash no longer matches its content), a removed or inserted one (sequence
    numbers not consecutive, or a previous-hash link broken), reordered ones (both), an entry written with
    another audit key, and an unkeyed entry after keyed ones (a keyed entry rewritten as an old-style one to
    recompute its hash without the key). With ``expected_head=(seq, hash)`` it also finds entries cut from
    the end.
    """
    prev_hash, expected_seq, checked = GENESIS_HASH, 0, 0
    last: AuditEvent | None = None
    keyed = False
    for event in events:
        if event.key_id is None and keyed:
            return ChainVerification(False, checked, event.seq,
                                     f"entry {event.seq} is unkeyed but follows keyed entries (rewritten without "
                                     "the audit key)")
        if event.key_id is not None and (key is None or event.key_id != key.key_id):
            have = "no audit key" if key is None else f"this installation's audit key is {key.key_id}"
            return ChainVerification(False, checked, event.seq,
                                     f"entry {event.seq} was written with audit key {event.key_id}, but {have} "
                                     "(a log from elsewhere, or a replaced key)")
        keyed = keyed or event.key_id is not None
        if event.seq != expected_seq:
            return ChainVerification(False, checked, event.seq,
                                     f"entry {event.seq} found where entry {expected_seq} was expected "
                                     "(entries removed, inserted or reordered)")
        if event.prev_hash != prev_hash:
            return ChainVerification(False, checked, event.seq,
                                     f"entry {event.seq} does not link to the entry before it")
        if event.computed_hash(key) != event.hash:
            return ChainVerification(False, checked, event.seq, f"entry {event.seq} was changed after it was written")
        prev_hash, expected_seq, checked, last = event.hash, expected_seq + 1, checked + 1, event
    if expected_head is not None:
        seq, digest = expected_head
        if last is None or last.seq != seq or last.hash != digest:
            found = "no entries" if last is None else f"entry {last.seq}"
            return ChainVerification(False, checked, None if last is None else last.seq,
                                     f"the log ends at {found}, but its recorded head is entry {seq} "
                                     "(entries cut from the end)")
    return ChainVerification(True, checked)
