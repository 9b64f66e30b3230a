"""Review on SQLite and PostgreSQL: two distinct reviewers confirm, the enroller may not, one rejection
closes; every decision audited; enrolment photos kept sealed for reviewers and gone with the templates."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from facesearch.audit import log as audit
from facesearch.audit.verification import verify as verify_log
from facesearch.cases.service import activate_case, close_case, create_case, enrol_into_case
from facesearch.engine import Engine
from facesearch.gallery.service import enrolment_photos
from facesearch.review.service import ReviewError, review
from facesearch.store.crypto import Sealer
from facesearch.store.schema import EvidenceRow, SightingRow
from support.audit import open_audited
from support.context import context_for

AUTH = {"legal_basis": "Act s.1", "authorisation_ref": "A-1", "authorised_by": "Judge R."}


def add_sighting(sessions: object, case_id: int, identity_id: int) -> int:
    with sessions.begin() as s:  # type: ignore[attr-defined]
        row = SightingRow(case_id=case_id, identity_id=identity_id, camera_id="cam-1", source="x.mp4", track=1,
                          start_s=1.0, end_s=2.0, best_s=1.5, started_at=None, ended_at=None, time_source="given",
                          score=0.9, fmr=1e-6, threshold=0.83, box=[0, 0, 10, 10], status="candidate",
                          created_at=datetime.now(UTC))
        s.add(row)
        s.flush()
        s.add(EvidenceRow(sighting_id=row.id, kind="frame", sealed=b"x", sha256="f" * 64))
        return int(row.id)


def test_two_distinct_reviewers_confirm_and_one_rejection_closes(database_url: str, tmp_path: Path, engine: Engine,
                                                                 people: Path) -> None:
    _, sessions = open_audited(database_url)
    sealer = Sealer(os.urandom(32))
    case = create_case(sessions, title="T", purpose="victim", valid_until=datetime.now(UTC) + timedelta(days=3),
                       actor="officer", **AUTH)
    enrolled = enrol_into_case(context_for(sessions, sealer, engine, tmp_path), case.ref, "Barack Obama",
                               [people / "obama.jpg"], actor="officer")
    assert enrolled.identity_id is not None
    photos = enrolment_photos(sessions, sealer, enrolled.identity_id)
    assert len(photos) == 1 and photos[0][:3] == b"\xff\xd8\xff"  # a JPEG, for the reviewers' side-by-side
    activate_case(sessions, case.ref, actor="officer")
    first = add_sighting(sessions, int(case.ref[1:]), enrolled.identity_id)
    second = add_sighting(sessions, int(case.ref[1:]), enrolled.identity_id)

    with pytest.raises(ReviewError, match="officer enrolled identity"):
        review(sessions, first, reviewer="officer", decision="confirm")
    once = review(sessions, first, reviewer="alice", decision="confirm")
    assert (once.status, once.confirmations, once.required) == ("candidate", 1, 2)
    with pytest.raises(ReviewError, match="alice has reviewed it already"):
        review(sessions, first, reviewer="alice", decision="confirm")
    assert review(sessions, first, reviewer="bob", decision="confirm", note="same scar").status == "confirmed"
    with pytest.raises(ReviewError, match="is already confirmed"):
        review(sessions, first, reviewer="carol", decision="reject")

    review(sessions, second, reviewer="alice", decision="confirm")
    assert review(sessions, second, reviewer="carol", decision="reject").status == "rejected"
    with pytest.raises(ReviewError, match="no such sighting"):
        review(sessions, 999, reviewer="bob", decision="confirm")
    with pytest.raises(ReviewError, match="not one of"):
        review(sessions, second, reviewer="dave", decision="maybe")

    with sessions() as s:
        decisions = [(e.actor, e.action, e.details["status"]) for e in audit.events(s)
                     if e.action.startswith("sighting.")]
        assert decisions == [("alice", "sighting.confirm", "candidate"), ("bob", "sighting.confirm", "confirmed"),
                             ("alice", "sighting.confirm", "candidate"), ("carol", "sighting.reject", "rejected")]
        seen = next(e.details["seen"] for e in audit.events(s) if e.action == "sighting.confirm")
        assert seen["evidence_sha256"] == {"frame": "f" * 64} and seen["enrolment_photos"] == 1
        assert verify_log(s).ok

    close_case(sessions, case.ref, actor="officer")
    assert enrolment_photos(sessions, sealer, enrolled.identity_id) == []  # gone with the templates
