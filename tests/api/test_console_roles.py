"""Every console route, signed in as every role and not signed in: the same matrix as the API. And the
live alert stream delivers a sighting stored while it is open."""

from __future__ import annotations

import os
import re
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from fastapi.testclient import TestClient

from facesearch.accounts import service as accounts
from facesearch.accounts.roles import ROLES, allowed
from facesearch.api.app import create_app
from facesearch.cases.access import assign
from facesearch.cases.service import create_case
from facesearch.context import Context
from facesearch.settings import Settings
from facesearch.store.crypto import Sealer
from facesearch.store.schema import IdentityRow, SightingRow
from support.audit import open_audited

PASSWORD = "correct horse battery"
ROUTES = [
    ("GET", "/console", "cases.read"), ("GET", "/console/cases/new", "cases.write"),
    ("POST", "/console/cases", "cases.write"), ("GET", "/console/cases/C1", "cases.read"),
    ("POST", "/console/cases/C1/authorise", "cases.write"), ("POST", "/console/cases/C1/export", "exports.write"),
    ("GET", "/console/review", "sightings.review"), ("POST", "/console/review/1", "sightings.review"),
    ("GET", "/console/evidence/1/frame.jpg", "sightings.read"), ("GET", "/console/enrolment/1.jpg", "sightings.review"),
    ("GET", "/console/alerts?limit_s=0.1", "sightings.read"), ("GET", "/console/scans", "scans.read"),
    ("GET", "/console/scans/table", "scans.read"), ("POST", "/console/scans", "scans.write"),
    ("POST", "/console/scans/1/cancel", "scans.write"), ("GET", "/console/enrol", "identities.enrol"),
    ("POST", "/console/enrol", "identities.enrol"), ("GET", "/console/cameras", "cameras.read"),
    ("POST", "/console/cameras", "cameras.write"), ("GET", "/console/audit", "audit.read"),
    ("GET", "/console/accounts", "accounts.write"), ("POST", "/console/accounts/users", "accounts.write"),
    ("POST", "/console/accounts/users/reviewer/enable", "accounts.write"),
    ("POST", "/console/accounts/keys", "accounts.write"),
    ("POST", "/console/accounts/keys/none/revoke", "accounts.write"),
    ("GET", "/console/library", "library.read"), ("POST", "/console/library/P1/name", "library.write"),
    ("POST", "/console/cases/C1/assign", "cases.assign"), ("POST", "/console/cases/C1/unassign/nobody", "cases.assign"),
    ("POST", "/console/cases/C1/people/99/remove", "identities.enrol"), ("GET", "/console/signin", "signin.verify"),
]


def add_sighting(sessions: object, identity: int) -> None:
    with sessions.begin() as s:  # type: ignore[attr-defined]
        s.add(SightingRow(case_id=1, identity_id=identity, camera_id="cam-1", source="a.mp4", track=1, start_s=0.0,
                          end_s=1.0, best_s=0.5, started_at=None, ended_at=None, time_source="given", score=0.9,
                          fmr=1e-6, threshold=0.8, box=[0, 0, 1, 1], status="candidate", created_at=datetime.now(UTC)))


def test_console_routes_obey_the_role_matrix_and_alerts_stream(tmp_path: Path) -> None:
    _, sessions = open_audited(f"sqlite:///{tmp_path / 'c.db'}")
    for role in ROLES:
        accounts.add_user(sessions, role, PASSWORD, role, actor="setup")
    create_case(sessions, title="T", purpose="victim", valid_until=datetime.now(UTC) + timedelta(days=3),
                actor="user:officer")  # the officer who makes it is assigned to it
    assign(sessions, "C1", "reviewer", actor="user:admin")  # need to know: the reviewer's case
    with sessions.begin() as s:
        person = IdentityRow(name="P", reference={}, created_at=datetime.now(UTC), created_by="x")
        s.add(person)
        s.flush()
        person_id = person.id
    app = create_app(Context(Settings(home=tmp_path), sessions, Sealer(os.urandom(32))), run_jobs=False)

    anonymous = TestClient(app)
    for method, path, _ in ROUTES:
        answer = anonymous.request(method, path, follow_redirects=False)
        assert answer.status_code == 303 and answer.headers["location"] == "/console/login", (method, path)
    for role in ROLES:
        client = TestClient(app)
        page = client.post("/console/login", data={"username": role, "password": PASSWORD})
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
        for method, path, action in ROUTES:
            data = {"csrf_token": token} if method == "POST" else None
            answer = client.request(method, path, data=data, follow_redirects=False)
            if allowed(role, action):
                assert answer.status_code not in (401, 403) and answer.headers.get("location") != "/console/login", (
                    role, method, path, answer.status_code)
            else:
                assert answer.status_code == 403, (role, method, path, answer.status_code)

    reviewer = TestClient(app)
    reviewer.post("/console/login", data={"username": "reviewer", "password": PASSWORD})
    threading.Timer(0.5, add_sighting, (sessions, person_id)).start()
    seen = []
    began = time.monotonic()
    with reviewer.stream("GET", "/console/alerts?limit_s=5&poll_s=0.2") as stream:
        for text in stream.iter_lines():
            seen.append(text)
            if text.startswith("data:") or time.monotonic() - began > 5:
                break
    assert "event: sighting" in seen and '"name": "P"' in seen[-1]


def test_admins_manage_people_and_keys_in_the_console(tmp_path: Path) -> None:
    _, sessions = open_audited(f"sqlite:///{tmp_path / 'c.db'}")
    accounts.add_user(sessions, "root", PASSWORD, "admin", actor="setup")
    app = create_app(Context(Settings(home=tmp_path), sessions, Sealer(os.urandom(32))), run_jobs=False)
    admin = TestClient(app)
    page = admin.post("/console/login", data={"username": "root", "password": PASSWORD})
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]

    added = admin.post("/console/accounts/users", data={"csrf_token": token, "username": "rita",
                                                        "password": PASSWORD, "role": "reviewer"})
    assert added.status_code == 200 and "rita" in added.text
    short = admin.post("/console/accounts/users", data={"csrf_token": token, "username": "sam",
                                                        "password": "short", "role": "reviewer"})
    assert short.status_code == 400 and "sam: password too short" in short.text
    other = admin.post("/console/accounts/keys", data={"csrf_token": token, "name": "nightly", "role": "auditor"})
    assert other.status_code == 400  # a key acts with its maker's role: an admin makes an admin's key only
    made = admin.post("/console/accounts/keys", data={"csrf_token": token, "name": "nightly", "role": "admin"})
    key = re.search(r'<code id="new-key">(fs_[^<]+)</code>', made.text).group(1)  # type: ignore[union-attr]
    assert "fs_" not in admin.get("/console/accounts").text  # shown once, never again
    assert accounts.by_api_key(sessions, key) is not None

    rita = TestClient(app)
    menu = rita.post("/console/login", data={"username": "rita", "password": PASSWORD}).text
    assert 'href="/console/review"' in menu and 'href="/console/accounts"' not in menu
    assert 'href="/console/enrol"' not in menu  # the menu offers only what the role may open
    assert rita.get("/console/review", follow_redirects=False).status_code == 200
    admin.post("/console/accounts/users/rita/disable", data={"csrf_token": token})
    assert rita.get("/console/review", follow_redirects=False).headers["location"] == "/console/login"
    admin.post("/console/accounts/keys/nightly/revoke", data={"csrf_token": token})
    assert accounts.by_api_key(sessions, key) is None
    forged = admin.post("/console/accounts/users/rita/enable", data={"csrf_token": "wrong"})
    assert forged.status_code == 403
    alone = admin.post("/console/accounts/users/root/disable", data={"csrf_token": token})
    assert alone.status_code == 400 and "last enabled administrator" in alone.text

    # Anyone signed in changes their own password from the page linked under their name.
    assert 'href="/console/password"' in admin.get("/console/accounts").text
    short = admin.post("/console/password", data={"csrf_token": token, "current": PASSWORD, "new": "short"})
    assert "password too short" in short.text
    done = admin.post("/console/password", data={"csrf_token": token, "current": PASSWORD,
                                                 "new": "another long passphrase"})
    assert "Password changed" in done.text
    assert TestClient(app).post("/console/login", data={"username": "root", "password": PASSWORD}).url.path == (
        "/console/login")
