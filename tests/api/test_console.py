"""The console's pages through a client that behaves like a browser: sign in, cases, the review queue
with the redacted evidence and the enrolment photo side by side, decisions, the verified audit log."""

from __future__ import annotations

import os
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
from fastapi.testclient import TestClient

from facesearch.accounts import service as accounts
from facesearch.api.app import create_app
from facesearch.cases.access import assign
from facesearch.cases.service import activate_case, create_case, enrol_into_case
from facesearch.context import Context
from facesearch.engine import Engine
from facesearch.images import to_jpeg
from facesearch.settings import Settings
from facesearch.store.crypto import Sealer
from facesearch.store.schema import EvidenceRow, SightingRow
from facesearch.video.sightings import evidence_purpose
from support.audit import open_audited
from support.context import context_for

PASSWORD = "correct horse battery"


def sign_in(client: TestClient, user: str) -> str:
    page = client.post("/console/login", data={"username": user, "password": PASSWORD})
    assert page.status_code == 200 and "Sign out" in page.text, page.text[:300]
    return re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]


def test_console_sign_in_cases_review_and_audit(tmp_path: Path, engine: Engine, people: Path) -> None:
    _, sessions = open_audited(f"sqlite:///{tmp_path / 'c.db'}")
    sealer = Sealer(os.urandom(32))
    for user, role in (("olga", "officer"), ("rita", "reviewer"), ("rob", "reviewer"), ("ava", "auditor")):
        accounts.add_user(sessions, user, PASSWORD, role, actor="setup")
    case = create_case(sessions, title="Missing: J. Doe", purpose="missing-person", actor="user:olga",
                       valid_until=datetime.now(UTC) + timedelta(days=3), legal_basis="x", authorisation_ref="y",
                       authorised_by="z")
    person = enrol_into_case(context_for(sessions, sealer, engine, tmp_path), case.ref, "Barack Obama",
                             [people / "obama.jpg"], actor="user:olga")
    activate_case(sessions, case.ref, actor="user:olga")
    for reviewer_name in ("rita", "rob"):  # need to know: olga is assigned as the case's maker, the reviewers here
        assign(sessions, case.ref, reviewer_name, actor="user:admin")
    frame = to_jpeg(np.full((90, 160, 3), 120, np.uint8))
    with sessions.begin() as s:
        row = SightingRow(case_id=1, identity_id=person.identity_id, camera_id="cam-1", source="/r/a.mp4", track=1,
                          start_s=1.0, end_s=2.0, best_s=1.5, started_at=None, ended_at=None, time_source="given",
                          score=0.9, fmr=1e-6, threshold=0.83, box=[0, 0, 10, 10], status="candidate",
                          created_at=datetime.now(UTC))
        s.add(row)
        s.flush()
        for kind in ("frame", "crop"):
            s.add(EvidenceRow(sighting_id=row.id, kind=kind, sealed=sealer.seal(frame, evidence_purpose(row.id, kind)),
                              sha256="0" * 64))
    app = create_app(Context(Settings(home=tmp_path), sessions, sealer), run_jobs=False)
    client = TestClient(app)
    assert client.get("/console", follow_redirects=False).headers.get("location") == "/console/login"
    assert "Wrong user name or password" in client.post("/console/login",
                                                        data={"username": "olga", "password": "nope"}).text

    token = sign_in(client, "olga")
    assert "Missing: J. Doe" in client.get("/console").text
    detail = client.get("/console/cases/C1").text
    assert "Barack Obama" in detail and "Close and delete the watchlist" in detail
    assert "<rect " in detail  # the case's timeline
    assert client.post("/console/cases/C1/close", data={"csrf_token": "forged"}).status_code == 403
    enrolled = client.post("/console/enrol", data={"csrf_token": token, "name": "Joe Biden", "case": "C1"},
                           files=[("photos", ("biden.jpg", (people / "biden.jpg").read_bytes(), "image/jpeg")),
                                  ("photos", ("tiny.jpg", (people / "obama-240p.jpg").read_bytes(), "image/jpeg"))])
    assert "Enrolled Joe Biden" in enrolled.text and "tiny.jpg" in enrolled.text and "too small" in enrolled.text
    refused = client.post("/console/scans", data={"csrf_token": token, "case": "C1", "paths": "/etc/passwd"})
    assert "not started: /etc/passwd" in refused.text
    assert "No scans yet" in client.get("/console/scans/table").text
    assert client.get("/console/review").status_code == 403  # officers do not review

    reviewer = TestClient(app)
    token = sign_in(reviewer, "rita")
    queue = reviewer.get("/console/review").text
    assert "Sighting 1" in queue and "/console/evidence/1/frame.jpg" in queue and "/console/enrolment/1.jpg" in queue
    assert reviewer.get("/console/evidence/1/frame.jpg").content == frame
    assert reviewer.get("/console/enrolment/1.jpg").content[:3] == b"\xff\xd8\xff"
    done = reviewer.post("/console/review/1", data={"decision": "confirm", "csrf_token": token})
    assert "1 of 2 confirmations" in done.text
    again = reviewer.post("/console/review/1", data={"decision": "confirm", "csrf_token": token})
    assert "rita has reviewed it already" in again.text

    second = TestClient(app)
    token = sign_in(second, "rob")
    assert "now confirmed" in second.post("/console/review/1", data={"decision": "confirm", "csrf_token": token}).text

    auditor = TestClient(app)
    sign_in(auditor, "ava")
    log_page = auditor.get("/console/audit").text
    assert "Chain verified" in log_page and "sighting.confirm" in log_page
    assert auditor.get("/console/review").status_code == 403
    guesser = TestClient(app)
    answers = [guesser.post("/console/login", data={"username": "ava", "password": f"guess {i}"}).text
               for i in range(6)]
    assert "Wrong user name" in answers[4] and "Too many failed sign-ins" in answers[5]
