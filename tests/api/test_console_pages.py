"""Console pages for people: refusals as pages in the console's layout (the API keeps JSON), the alert
stream only where the role may read sightings, scans that say why they did not start, and the review
queue's progress and case filter."""

from __future__ import annotations

import os
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from facesearch.accounts import service as accounts
from facesearch.api.app import create_app
from facesearch.cases.access import assign
from facesearch.cases.service import activate_case, create_case
from facesearch.context import Context
from facesearch.errors import RefusedError
from facesearch.settings import Settings
from facesearch.store.crypto import Sealer
from facesearch.store.schema import IdentityRow, SightingRow
from facesearch.video import scan as scan_module
from support.audit import open_audited

PASSWORD = "correct horse battery"


def make_app(tmp_path: Path, **settings: Any) -> tuple[sessionmaker[Session], TestClient]:
    _, sessions = open_audited(f"sqlite:///{tmp_path / 'c.db'}")
    for user, role in (("olga", "officer"), ("rita", "reviewer"), ("rob", "reviewer"), ("ava", "auditor"),
                       ("root", "admin"), ("lib", "library")):
        accounts.add_user(sessions, user, PASSWORD, role, actor="setup")
    app = create_app(Context(Settings(home=tmp_path, **settings), sessions, Sealer(os.urandom(32))), run_jobs=False)
    return sessions, TestClient(app)


def sign_in(client: TestClient, user: str) -> str:
    page = client.post("/console/login", data={"username": user, "password": PASSWORD})
    assert page.status_code == 200 and "Sign out" in page.text, page.text[:300]
    return re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]


def test_forbidden_and_missing_console_pages_are_html_and_the_api_keeps_json(tmp_path: Path) -> None:
    sessions, client = make_app(tmp_path)
    create_case(sessions, title="T", purpose="victim", valid_until=datetime.now(UTC) + timedelta(days=3),
                actor="user:olga")
    sign_in(client, "rita")
    refused = client.get("/console/audit")
    assert refused.status_code == 403 and refused.headers["content-type"].startswith("text/html")
    assert "Not allowed" in refused.text and "role &#39;reviewer&#39; may not audit.read" in refused.text
    assert "/console/audit" in refused.text and 'href="/console"' in refused.text  # the way back
    assert "Sign out" in refused.text  # in the console's layout, with the menu
    assert '{"error"' not in refused.text
    unseen = client.get("/console/cases/C1")  # need to know: rita is not assigned to C1
    assert unseen.status_code == 403 and "text/html" in unseen.headers["content-type"] and "C1" in unseen.text
    missing = client.get("/console/cases/C99")
    assert missing.status_code == 404 and "Not found" in missing.text and "C99" in missing.text
    nowhere = client.get("/console/no-such-page")
    assert nowhere.status_code == 404 and "text/html" in nowhere.headers["content-type"]
    # The API answers programs: JSON, as before.
    api = client.get("/v1/audit")
    assert api.status_code == 403 and api.json()["error"] == "role 'reviewer' may not audit.read"
    assert client.get("/v1/no-such-route").json() == {"detail": "Not Found"}
    # A forbidden page's way back for a role that may not open the cases list: its own first page.
    lib = TestClient(client.app)
    sign_in(lib, "lib")
    page = lib.get("/console/audit")
    assert page.status_code == 403 and 'href="/console/library"' in page.text
    # Not signed in: still off to the sign-in page, not an error page.
    assert TestClient(client.app).get("/console/audit", follow_redirects=False).status_code == 303


def test_the_alert_stream_is_loaded_only_for_roles_that_read_sightings(tmp_path: Path) -> None:
    _, client = make_app(tmp_path)
    for user, page, streams in (("root", "/console/accounts", False), ("ava", "/console/audit", False),
                                ("lib", "/console/library", False), ("rita", "/console/review", True),
                                ("olga", "/console", True)):
        person = TestClient(client.app)
        sign_in(person, user)
        text = person.get(page).text
        assert ("alerts.js" in text) is streams, (user, page)


def active_case(sessions: sessionmaker[Session]) -> None:
    create_case(sessions, title="T", purpose="missing-person", actor="user:olga",
                valid_until=datetime.now(UTC) + timedelta(days=3), legal_basis="x", authorisation_ref="y",
                authorised_by="z")
    activate_case(sessions, "C1", actor="user:olga")


def test_console_scans_say_why_resolve_under_the_media_root_and_take_a_start_time(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    media = tmp_path / "media"
    (media / "day1").mkdir(parents=True)
    (media / "day1" / "clip.mp4").write_bytes(b"not really a video")
    (tmp_path / "elsewhere.mp4").write_bytes(b"x")
    sessions, client = make_app(tmp_path, media_root=media)
    active_case(sessions)
    token = sign_in(client, "olga")
    form = client.get("/console/scans").text
    assert 'name="start"' in form

    def start(paths: str, **more: str) -> str:
        return client.post("/console/scans", data={"csrf_token": token, "case": "C1", "paths": paths, **more}).text

    missing = start("day1/missing.mp4")  # relative: inside the media folder, and the reason is shown
    assert "not started: day1/missing.mp4: no such file or folder" in missing
    outside = start(str(tmp_path / "elsewhere.mp4"))
    assert f"not started: {tmp_path / 'elsewhere.mp4'}: outside the media folder" in outside
    bad_time = start("day1/clip.mp4", start="yesterday")
    assert "not started: recording start" in bad_time and "not a date" in bad_time
    assert "No scans yet" in client.get("/console/scans/table").text

    queued = start("day1/clip.mp4", start="2025-01-31T14:00")  # relative to the media root, not the server's folder
    assert "not started" not in queued
    jobs = client.app.state.jobs  # type: ignore[attr-defined]
    [job] = jobs.list(actor="user:olga")
    assert job.params["paths"] == [str((media / "day1" / "clip.mp4").resolve())]
    assert job.params["start"] == "2025-01-31T14:00:00+00:00"
    given: dict[str, object] = {}

    def fake_scan(*args: object, **kwargs: object) -> None:  # the job hands its start time to the scan
        given.update(kwargs)
        raise RefusedError("C1", "stop here")

    monkeypatch.setattr(scan_module, "scan", fake_scan)
    jobs._run(job.id)
    assert given["start"] == datetime(2025, 1, 31, 14, 0, tzinfo=UTC)
    start("day1/clip.mp4")
    newest = jobs.list(actor="user:olga")[0]
    assert "start" not in newest.params  # none given: the recordings' own times


def add_sighting(sessions: sessionmaker[Session], case_id: int, identity: int) -> None:
    with sessions.begin() as s:
        s.add(SightingRow(case_id=case_id, identity_id=identity, camera_id="cam-1", source="a.mp4", track=1,
                          start_s=0.0, end_s=1.0, best_s=0.5, started_at=None, ended_at=None, time_source="given",
                          score=0.9, fmr=1e-6, threshold=0.8, box=[0, 0, 1, 1], status="candidate",
                          created_at=datetime.now(UTC)))


def test_the_review_queue_shows_confirmations_and_filters_by_case(tmp_path: Path) -> None:
    sessions, client = make_app(tmp_path, min_reviewers=2)
    for title in ("One", "Two", "Three"):
        create_case(sessions, title=title, purpose="victim",
                    valid_until=datetime.now(UTC) + timedelta(days=3), actor="user:olga")
    for ref in ("C1", "C2"):
        for reviewer in ("rita", "rob"):
            assign(sessions, ref, reviewer, actor="user:root")
    with sessions.begin() as s:
        person = IdentityRow(name="P", reference={}, created_at=datetime.now(UTC), created_by="user:olga")
        s.add(person)
        s.flush()
        person_id = person.id
    add_sighting(sessions, 1, person_id)
    add_sighting(sessions, 2, person_id)
    add_sighting(sessions, 3, person_id)  # C3: neither reviewer is assigned to it

    rob = TestClient(client.app)
    rob_token = sign_in(rob, "rob")
    assert rob.post("/console/review/1", data={"csrf_token": rob_token, "decision": "confirm"}).status_code == 200
    sign_in(client, "rita")
    page = client.get("/console/review").text
    cards = page.split('class="card"')[1:]
    assert len(cards) == 2  # C1's and C2's; C3 is not rita's to see
    assert "Sighting 1" in cards[0] and "Confirmed by rob · 1 of 2 confirmations, 1 still needed" in cards[0]
    assert "Sighting 2" in cards[1] and "Confirmed by nobody yet · 0 of 2 confirmations, 2 still needed" in cards[1]
    assert '<option value="C1">C1</option>' in page and '<option value="C2">C2</option>' in page
    assert 'value="C3"' not in page

    only_two = client.get("/console/review?case=C2").text
    assert "Sighting 2" in only_two and "Sighting 1" not in only_two
    assert '<option value="C2" selected>C2</option>' in only_two
    lower = client.get("/console/review?case=c1").text  # a reference in any case, as everywhere
    assert "Sighting 1" in lower and "Sighting 2" not in lower and '<option value="C1" selected>' in lower
    refused = client.get("/console/review?case=C3")  # need to know: refused, as a page
    assert refused.status_code == 403 and "text/html" in refused.headers["content-type"]
