"""The console's forms are read with the API's request models: what the API refuses (422), the console
refuses too, with one readable line; and a date means the same in both."""

from __future__ import annotations

import os
import re
from datetime import UTC, datetime
from pathlib import Path

from fastapi.testclient import TestClient

from facesearch.accounts import service as accounts
from facesearch.api.app import create_app
from facesearch.cases.service import get_case, list_cases
from facesearch.context import Context
from facesearch.settings import Settings
from facesearch.store.crypto import Sealer
from support.audit import open_audited

PASSWORD = "correct horse battery"
HUGE_TITLE = "x" * 100_000


def signed_in(app: object, user: str) -> tuple[TestClient, str]:
    client = TestClient(app)  # type: ignore[arg-type]
    page = client.post("/console/login", data={"username": user, "password": PASSWORD})
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    return client, token


def test_console_forms_refuse_what_the_api_refuses_and_read_dates_alike(tmp_path: Path) -> None:
    _, sessions = open_audited(f"sqlite:///{tmp_path / 'c.db'}")
    accounts.add_user(sessions, "olga", PASSWORD, "officer", actor="setup")
    accounts.add_user(sessions, "root", PASSWORD, "admin", actor="setup")
    officer_key = {"Authorization": f"Bearer {accounts.add_api_key(sessions, 'cases-app', owner='olga')}"}
    admin_key = {"Authorization": f"Bearer {accounts.add_api_key(sessions, 'admin-app', owner='root')}"}
    app = create_app(Context(Settings(home=tmp_path), sessions, Sealer(os.urandom(32))), run_jobs=False)
    api = TestClient(app)
    officer, token = signed_in(app, "olga")
    case = {"purpose": "victim", "valid_from": "2030-01-20", "valid_until": "2030-01-31"}

    # A 100,000-character title: refused by both, the console naming the field (and not echoing the title).
    refused = officer.post("/console/cases", data={"csrf_token": token, "title": HUGE_TITLE, **case},
                           follow_redirects=False)
    assert refused.status_code == 303 and refused.headers["location"].startswith("/console/cases/new?error=")
    assert len(refused.headers["location"]) < 500
    assert "title too long (at most 300 characters)" in officer.get(refused.headers["location"]).text
    assert api.post("/v1/cases", json={"title": HUGE_TITLE, **case}, headers=officer_key).status_code == 422
    assert list_cases(sessions, actor="system") == []

    # A bare valid-until date lasts to the end of that day (UTC), in the console as in the API.
    made = officer.post("/console/cases", data={"csrf_token": token, "title": "Console", **case},
                        follow_redirects=False)
    assert made.status_code == 303 and made.headers["location"] == "/console/cases/C1"
    through_api = api.post("/v1/cases", json={"title": "API", **case}, headers=officer_key)
    assert through_api.status_code == 201, through_api.text
    console_case = get_case(sessions, "C1", actor="system")
    api_case = get_case(sessions, through_api.json()["id"], actor="system")
    assert console_case.valid_until == datetime(2030, 1, 31, 23, 59, 59, 999999, UTC) == api_case.valid_until
    assert console_case.valid_from == datetime(2030, 1, 20, tzinfo=UTC) == api_case.valid_from

    # Names with '/' (for a person or a program's key): refused by both, nothing made.
    admin, token = signed_in(app, "root")
    user = admin.post("/console/accounts/users", data={"csrf_token": token, "username": "eve/../root",
                                                       "password": PASSWORD, "role": "reviewer"})
    assert user.status_code == 400 and "username &#39;eve/../root&#39; holds characters" in user.text
    key = admin.post("/console/accounts/keys", data={"csrf_token": token, "name": "a/b", "role": "auditor"})
    assert key.status_code == 400 and "name &#39;a/b&#39; holds characters" in key.text
    assert 'id="new-key"' not in key.text
    api_user = {"username": "eve/../root", "password": PASSWORD, "role": "reviewer"}
    assert api.post("/v1/users", json=api_user, headers=admin_key).status_code == 422
    assert admin.post("/v1/apikeys", json={"name": "a/b"}, headers={"X-CSRF-Token": token}).status_code == 422
    assert {u.username for u in accounts.list_users(sessions)} == {"olga", "root"}
    assert {k.name for k in accounts.list_api_keys(sessions)} == {"cases-app", "admin-app"}
