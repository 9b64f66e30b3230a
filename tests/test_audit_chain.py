"""The audit hash chain finds every kind of tampering."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from facesearch.audit.chain import AuditEvent, canonical_json, next_event, verify_chain
from facesearch.audit.keys import AuditKey

KEY = AuditKey.generate()


def chain(n: int = 6) -> list[AuditEvent]:
    events: list[AuditEvent] = []
    for i in range(n):
        events.append(next_event(events[-1] if events else None, KEY, actor=f"user:officer-{i % 2}",
                                 action="case.update", case_id="C1", subject=f"field-{i}",
                                 details={"value": i, "name": "Zoë"}, at=datetime(2026, 11, 26, 12, i, tzinfo=UTC)))
    return events


def test_an_untouched_chain_verifies() -> None:
    events = chain()
    result = verify_chain(events, KEY, expected_head=(events[-1].seq, events[-1].hash))
    assert result.ok and result.checked == 6


def test_a_changed_entry_is_found() -> None:
    events = chain()
    events[3] = replace(events[3], details={"value": 999, "name": "Zoë"})
    result = verify_chain(events, KEY)
    assert not result.ok and result.first_bad_seq == 3 and "changed" in result.reason


def test_a_rehashed_change_still_breaks_the_next_link() -> None:
    events = chain()
    forged = replace(events[2], actor="someone else")
    events[2] = replace(forged, hash=forged.computed_hash(KEY))
    result = verify_chain(events, KEY)
    assert not result.ok and result.first_bad_seq == 3 and "link" in result.reason


@pytest.mark.parametrize("damage", ["remove", "reorder", "insert"])
def test_removed_reordered_and_inserted_entries_are_found(damage: str) -> None:
    events = chain()
    if damage == "remove":
        del events[2]
    elif damage == "reorder":
        events[2], events[3] = events[3], events[2]
    else:
        events.insert(2, next_event(events[1], KEY, actor="x", action="case.update"))
    result = verify_chain(events, KEY)
    assert not result.ok and result.first_bad_seq is not None and result.first_bad_seq >= 2


def test_entries_cut_from_the_end_need_the_recorded_head() -> None:
    events = chain()
    head = (events[-1].seq, events[-1].hash)
    assert verify_chain(events[:-2], KEY).ok  # the chain alone cannot tell
    result = verify_chain(events[:-2], KEY, expected_head=head)
    assert not result.ok and "cut from the end" in result.reason


def test_hash_does_not_depend_on_key_order() -> None:
    assert canonical_json({"b": 1, "a": [1, {"d": 2, "c": 3}]}) == canonical_json({"a": [1, {"c": 3, "d": 2}], "b": 1})
    with pytest.raises(ValueError):
        next_event(None, KEY, actor="a", action="b", details={"x": float("nan")})


def _rehash_without_key(events: list[AuditEvent], start: int, *, strip_key: bool) -> list[AuditEvent]:
    """What an attacker without the audit key can do: recompute every hash from ``start`` with plain SHA-256."""
    out = list(events[:start])
    for e in events[start:]:
        forged = replace(e, prev_hash=out[-1].hash if out else e.prev_hash, key_id=None if strip_key else e.key_id)
        message = forged.prev_hash.encode() + b"\n" + canonical_json(forged.payload())
        out.append(replace(forged, hash=hashlib.sha256(message).hexdigest()))
    return out


def test_a_chain_recomputed_without_the_key_is_found() -> None:
    events = chain()
    events[2] = replace(events[2], details={"value": 999})
    result = verify_chain(_rehash_without_key(events, 2, strip_key=False), KEY)
    assert not result.ok and result.first_bad_seq == 2 and "changed" in result.reason


def test_keyed_entries_rewritten_as_unkeyed_ones_are_found() -> None:
    events = chain()
    events[3] = replace(events[3], actor="user:nobody")
    result = verify_chain(_rehash_without_key(events, 3, strip_key=True), KEY)
    assert not result.ok and result.first_bad_seq == 3 and "unkeyed" in result.reason


def test_a_log_written_with_another_key_is_named() -> None:
    events = chain()
    result = verify_chain(events, AuditKey.generate())
    assert not result.ok and result.first_bad_seq == 0 and KEY.key_id in result.reason


def test_the_key_is_needed_to_check_keyed_links() -> None:
    result = verify_chain(chain(), None)
    assert not result.ok and "no audit key" in result.reason
