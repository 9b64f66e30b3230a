"""The audit hash chain finds every kind of tampering."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from facesearch.audit.chain import AuditEvent, canonical_json, next_event, verify_chain


def chain(n: int = 6) -> list[AuditEvent]:
    events: list[AuditEvent] = []
    for i in range(n):
        events.append(next_event(events[-1] if events else None, actor=f"officer-{i % 2}", action="case.update",
                                 case_id="C1", subject=f"field-{i}", details={"value": i, "name": "Zoë"},
                                 at=datetime(2026, 11, 26, 12, i, tzinfo=UTC)))
    return events


def test_an_untouched_chain_verifies() -> None:
    events = chain()
    result = verify_chain(events, expected_head=(events[-1].seq, events[-1].hash))
    assert result.ok and result.checked == 6


def test_a_changed_entry_is_found() -> None:
    events = chain()
    events[3] = replace(events[3], details={"value": 999, "name": "Zoë"})
    result = verify_chain(events)
    assert not result.ok and result.first_bad_seq == 3 and "changed" in result.reason


def test_a_rehashed_change_still_breaks_the_next_link() -> None:
    events = chain()
    forged = replace(events[2], actor="someone else")
    events[2] = replace(forged, hash=forged.computed_hash())
    result = verify_chain(events)
    assert not result.ok and result.first_bad_seq == 3 and "link" in result.reason


@pytest.mark.parametrize("damage", ["remove", "reorder", "insert"])
def test_removed_reordered_and_inserted_entries_are_found(damage: str) -> None:
    events = chain()
    if damage == "remove":
        del events[2]
    elif damage == "reorder":
        events[2], events[3] = events[3], events[2]
    else:
        events.insert(2, next_event(events[1], actor="x", action="case.update"))
    result = verify_chain(events)
    assert not result.ok and result.first_bad_seq is not None and result.first_bad_seq >= 2


def test_entries_cut_from_the_end_need_the_recorded_head() -> None:
    events = chain()
    head = (events[-1].seq, events[-1].hash)
    assert verify_chain(events[:-2]).ok  # the chain alone cannot tell
    result = verify_chain(events[:-2], expected_head=head)
    assert not result.ok and "cut from the end" in result.reason


def test_hash_does_not_depend_on_key_order() -> None:
    assert canonical_json({"b": 1, "a": [1, {"d": 2, "c": 3}]}) == canonical_json({"a": [1, {"c": 3, "d": 2}], "b": 1})
    with pytest.raises(ValueError):
        next_event(None, actor="a", action="b", details={"x": float("nan")})
