"""Every route, with every role and with no credentials: the role matrix holds; sessions need CSRF
tokens for changes; sign-in failures are rate-limited; security headers on every answer."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from facesearch.accounts import service as accounts
from facesearch.accounts.roles import MATRIX, PERSON_ONLY, ROLES, allowed
from facesearch.api.app import create_app
from facesearch.cases.access import assign as assign_case
from facesearch.context import Context
from facesearch.settings import Settings
from facesearch.store.crypto import Sealer
from support.audit import open_audited

UNTIL = (datetime.now(UTC) + timedelta(days=5)).isoformat()
CASE = {"title": "T", "purpose": "victim", "valid_until": UNTIL, "legal_basis": "x", "authorisation_ref": "y",
        "authorised_by": "z"}
ROUTES: list[tuple[str, str, str | None, dict[str, Any] | None]] = [
    ("GET", "/v1/cases", "cases.read", None),
    ("POST", "/v1/cases", "cases.write", CASE),
    ("GET", "/v1/cases/C1", "cases.read", None),
    ("POST", "/v1/cases/C1/authorise", "cases.write", {"authorising_authority": "Court"}),
    ("POST", "/v1/cases/C1/recording-window", "cases.write", {"recorded_until": UNTIL}),
    ("POST", "/v1/cases/C1/activate", "cases.write", None),
    ("GET", "/v1/cameras", "cameras.read", None),
    ("POST", "/v1/cameras", "cameras.write", {"id": "cam-1", "name": "Door"}),
    ("POST", "/v1/cameras/cam-1/disable", "cameras.write", None),
    ("POST", "/v1/cameras/cam-1/enable", "cameras.write", None),
    ("DELETE", "/v1/cameras/cam-1", "cameras.write", None),
    ("DELETE", "/v1/cases/C1/people/1", "identities.enrol", None),
    ("DELETE", "/v1/cases/C1/people/1/photos/1", "identities.enrol", None),
    ("GET", "/v1/sightings?case=C1", "sightings.read", None),
    ("POST", "/v1/sightings/1/review", "sightings.review", {"decision": "confirm"}),
    ("POST", "/v1/verify", "search.verify", None),
    ("POST", "/v1/identify", "search.identify", None),
    ("POST", "/v1/identities", "identities.enrol", None),
    ("GET", "/v1/identities?case=C1", "identities.read", None),
    ("POST", "/v1/scans", "scans.write", {"case": "C1", "paths": ["/nowhere"]}),
    ("GET", "/v1/scans", "scans.read", None),
    ("GET", "/v1/scans/1", "scans.read", None),
    ("POST", "/v1/scans/1/cancel", "scans.write", None),
    ("GET", "/metrics", "metrics.read", None),
    ("POST", "/v1/exports?case=C1", "exports.write", None),
    ("GET", "/v1/users", "accounts.write", None),
    ("POST", "/v1/users", "accounts.write", {"username": "new-person", "password": "another long secret",
                                             "role": "reviewer"}),
    ("POST", "/v1/apikeys", "apikeys.own", {"name": "new-key"}),
    ("GET", "/v1/cases/C1/assignments", "cases.assign", None),
    ("POST", "/v1/cases/C1/assignments", "cases.assign", {"username": "second-officer"}),
    ("DELETE", "/v1/cases/C1/assignments/second-officer", "cases.assign", None),
    ("GET", "/v1/apikeys", "accounts.write", None),
    ("POST", "/v1/apikeys/new-key/revoke", "accounts.write", None),
    ("POST", "/v1/users/new-person/disable", "accounts.write", None),
    ("POST", "/v1/users/new-person/enable", "accounts.write", None),
    ("GET", "/v1/library/people", "library.read", None),
    ("POST", "/v1/library/people/P1/name", "library.write", {"name": "Maria"}),
    ("POST", "/v1/signin/Nobody/verify", "signin.verify", None),
    ("POST", "/v1/signin/Nobody/challenge", "signin.verify", None),
    ("GET", "/v1/signin", "signin.manage", None),
    ("POST", "/v1/signin", "signin.manage", None),
    ("DELETE", "/v1/signin/Nobody", "signin.manage", None),
    ("GET", "/v1/calibration", "calibration.manage", None),
    ("DELETE", "/v1/calibration/in-force", "calibration.manage", None),
    ("GET", "/v1/audit", "audit.read", None),
    ("GET", "/v1/audit/verify", "audit.read", None),
    ("POST", "/v1/cases/C1/close", "cases.write", None),
]


@pytest.fixture()
def served(tmp_path: Path) -> tuple[TestClient, dict[str, str], Any]:
    _, sessions = open_audited(f"sqlite:///{tmp_path / 'api.db'}")
    app = create_app(Context(Settings(home=tmp_path), sessions, Sealer(os.urandom(32))), run_jobs=False)
    for role in ROLES:
        accounts.add_user(sessions, f"{role}-person", "correct horse battery", role, actor="setup")
    accounts.add_user(sessions, "second-officer", "correct horse battery", "officer", actor="setup")
    keys = {role: accounts.add_api_key(sessions, f"{role}-key", owner=f"{role}-person") for role in ROLES}
    client = TestClient(app)
    created = client.post("/v1/cases", json=CASE, headers={"Authorization": f"Bearer {keys['officer']}"})
    assert created.status_code == 201, created.text
    assign_case(sessions, "C1", "reviewer-person", actor="user:admin-person")  # need to know: the reviewer's case
    return client, keys, sessions


def test_every_route_obeys_the_role_matrix(served: tuple[TestClient, dict[str, str], Any]) -> None:
    client, keys, _ = served
    assert {action for _, _, action, _ in ROUTES} == set(MATRIX)
    for method, path, action, body in ROUTES:
        anonymous = client.request(method, path, json=body)
        assert anonymous.status_code == 401, (method, path)
        assert client.request(method, path, json=body, headers={"Authorization": "Bearer nope"}).status_code == 401
        for role in ROLES:
            answer = client.request(method, path, json=body, headers={"Authorization": f"Bearer {keys[role]}"})
            assert action is not None
            if allowed(role, action) and action not in PERSON_ONLY:
                assert answer.status_code not in (401, 403), (method, path, role, answer.text)
            elif allowed(role, action):  # a key never takes an action a person must take in person
                assert answer.status_code == 403, (method, path, role, answer.text)
                assert answer.json()["error"] == f"an API key may not {action}: sign in with your own account"
            else:
                assert answer.status_code == 403, (method, path, role, answer.text)
                assert answer.json()["error"] == f"role {role!r} may not {action}"
    admin = {"Authorization": f"Bearer {keys['admin']}"}
    signed_in = TestClient(client.app)
    csrf = signed_in.post("/v1/auth/login", json={"username": "admin-person",
                                                 "password": "correct horse battery"}).json()["csrf_token"]
    made = signed_in.post("/v1/apikeys", json={"name": "one-more"}, headers={"X-CSRF-Token": csrf}).json()
    assert made["role"] == "admin"  # a key of the admin's own, with the admin's role
    assert client.get("/v1/audit/verify", headers={"Authorization": f"Bearer {made['key']}"}).json()["ok"] is True
    weak = client.post("/v1/users", json={"username": "x", "password": "short", "role": "admin"}, headers=admin)
    assert weak.status_code == 422
    assert "new-person" in [u["username"] for u in client.get("/v1/users", headers=admin).json()]
    metrics = client.get("/metrics", headers=admin).text
    assert 'facesearch_http_requests_total{method="GET",route="/v1/cases/{ref}",status="200"}' in metrics
    assert "facesearch_jobs_queued" in metrics
    health = client.get("/health")
    assert health.status_code == 200 and health.headers["X-Frame-Options"] == "DENY"
    assert "default-src 'self'" in health.headers["Content-Security-Policy"]


def test_people_sign_in_and_changes_need_the_csrf_token(served: tuple[TestClient, dict[str, str], Any]) -> None:
    client, _, _ = served
    signed = client.post("/v1/auth/login", json={"username": "officer-person", "password": "correct horse battery"})
    assert signed.status_code == 200 and signed.json()["role"] == "officer"
    cookie = signed.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie
    csrf = signed.json()["csrf_token"]
    assert client.get("/v1/cases").status_code == 200  # reading needs no token
    forged = client.post("/v1/cases", json=CASE)  # a cross-site form would have the cookie, not the token
    assert forged.status_code == 403 and "CSRF" in forged.json()["error"]
    assert client.post("/v1/cases", json=CASE, headers={"X-CSRF-Token": csrf}).status_code == 201
    assert client.post("/v1/auth/logout", headers={"X-CSRF-Token": csrf}).status_code == 200
    assert client.get("/v1/cases").status_code == 401


def test_failed_sign_ins_are_limited_and_audited(served: tuple[TestClient, dict[str, str], Any]) -> None:
    from facesearch.audit import log as audit

    client, _, sessions = served
    codes = [client.post("/v1/auth/login", json={"username": "reviewer-person", "password": f"guess {i}"}).status_code
             for i in range(7)]
    assert codes == [401] * 5 + [429] * 2
    right = client.post("/v1/auth/login", json={"username": "reviewer-person", "password": "correct horse battery"})
    assert right.status_code == 429  # the limit holds for a minute, even for the right password
    with sessions() as s:  # the first failure from an address is written; the others are counted (bounded work)
        assert sum(e.action == "account.sign_in.failed" for e in audit.events(s)) == 1
    client.app.state.limiter.failed_sign_ins.flush(sessions, force=True)  # type: ignore[attr-defined]
    with sessions() as s:
        failed = [e for e in audit.events(s) if e.action == "account.sign_in.failed"]
    assert len(failed) == 2 and failed[-1].details["failures"] == 5


def test_the_openapi_spec_is_served_and_lists_the_routes(served: tuple[TestClient, dict[str, str], Any]) -> None:
    client, _, _ = served
    spec = client.get("/v1/openapi.json").json()
    assert spec["info"]["title"] == "facesearch"
    assert {"/v1/cases", "/v1/sightings/{sighting_id}/review", "/v1/audit/verify"} <= set(spec["paths"])


def test_disabling_a_person_ends_their_sessions_and_revoked_keys_stop_working(
        served: tuple[TestClient, dict[str, str], Any]) -> None:
    from facesearch.audit import log as audit

    client, keys, sessions = served
    admin = {"Authorization": f"Bearer {keys['admin']}"}
    person = TestClient(client.app)
    assert person.post("/v1/auth/login", json={"username": "reviewer-person",
                                               "password": "correct horse battery"}).status_code == 200
    assert person.get("/v1/cases").status_code == 200
    assert client.post("/v1/users/reviewer-person/disable", headers=admin).status_code == 200
    assert person.get("/v1/cases").status_code == 401  # the open session ended with the account
    assert person.post("/v1/auth/login", json={"username": "reviewer-person",
                                               "password": "correct horse battery"}).status_code == 401
    assert {u["username"]: u["disabled"] for u in client.get("/v1/users", headers=admin).json()}["reviewer-person"]
    assert client.post("/v1/users/reviewer-person/enable", headers=admin).status_code == 200
    assert person.post("/v1/auth/login", json={"username": "reviewer-person",
                                               "password": "correct horse battery"}).status_code == 200

    auditor = {"Authorization": f"Bearer {keys['auditor']}"}
    assert client.get("/v1/audit", headers=auditor).status_code == 200
    assert client.post("/v1/apikeys/auditor-key/revoke", headers=admin).status_code == 200
    assert client.get("/v1/audit", headers=auditor).status_code == 401
    listed = {k["name"]: k for k in client.get("/v1/apikeys", headers=admin).json()}
    assert listed["auditor-key"]["revoked"] is True and "key" not in listed["auditor-key"]
    assert client.post("/v1/apikeys/no-such-key/revoke", headers=admin).status_code == 404

    # The last enabled administrator stays: disabling them would lock everyone out of account management.
    last = client.post("/v1/users/admin-person/disable", headers=admin)
    assert last.status_code == 400 and "last enabled administrator" in last.json()["error"]
    with sessions() as s:
        actions = [e.action for e in audit.events(s)]
    assert {"account.user.disable", "account.user.enable", "account.key.revoke"} <= set(actions)


def test_people_change_their_own_password_and_their_other_sessions_end(
        served: tuple[TestClient, dict[str, str], Any]) -> None:
    client, keys, _ = served
    old, new = "correct horse battery", "a brand new long passphrase"
    laptop, phone = TestClient(client.app), TestClient(client.app)
    csrf = laptop.post("/v1/auth/login", json={"username": "auditor-person", "password": old}).json()["csrf_token"]
    assert phone.post("/v1/auth/login", json={"username": "auditor-person", "password": old}).status_code == 200
    wrong = laptop.post("/v1/auth/password", json={"current": "guess", "new": new}, headers={"X-CSRF-Token": csrf})
    assert wrong.status_code == 400 and "current password is wrong" in wrong.json()["error"]
    assert laptop.post("/v1/auth/password", json={"current": old, "new": new}).status_code == 403  # no CSRF token
    changed = laptop.post("/v1/auth/password", json={"current": old, "new": new}, headers={"X-CSRF-Token": csrf})
    assert changed.status_code == 200
    assert laptop.get("/v1/audit/verify").status_code == 200  # this session goes on
    assert phone.get("/v1/audit/verify").status_code == 401  # the other one ended
    assert client.post("/v1/auth/login", json={"username": "auditor-person", "password": old}).status_code == 401
    assert client.post("/v1/auth/login", json={"username": "auditor-person", "password": new}).status_code == 200
    by_key = client.post("/v1/auth/password", json={"current": "x", "new": new},
                         headers={"Authorization": f"Bearer {keys['auditor']}"})
    assert by_key.status_code == 403 and "API keys have no password" in by_key.json()["error"]
