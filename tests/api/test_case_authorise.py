"""POST /v1/cases/{ref}/authorise: a draft gains its authorisation through the API as through the CLI and
the console; limits, references and two clients at once."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

from fastapi.testclient import TestClient

from facesearch.api.app import create_app
from facesearch.context import Context
from facesearch.settings import Settings
from facesearch.store.crypto import Sealer
from owned_keys import key_for
from support.audit import open_audited


def test_a_draft_is_authorised_over_the_api(tmp_path: Path) -> None:
    _, sessions = open_audited(f"sqlite:///{tmp_path / 'a.db'}")
    key = {"Authorization": f"Bearer {key_for(sessions, 'officer', 'officer')}"}
    app = create_app(Context(Settings(home=tmp_path), sessions, Sealer(os.urandom(32))), run_jobs=False)
    client = TestClient(app)
    until = (datetime.now(UTC) + timedelta(days=3)).date().isoformat()
    draft = client.post("/v1/cases", json={"title": "T", "purpose": "victim", "valid_until": until}, headers=key)
    assert draft.status_code == 201 and draft.json()["status"] == "draft"

    partly = client.post("/v1/cases/C1/authorise", json={"legal_basis": "Police Act s.1"}, headers=key)
    assert partly.status_code == 200 and partly.json()["status"] == "draft"  # two fields still missing
    too_long = client.post("/v1/cases/C1/authorise", json={"authorised_by": "x" * 2001}, headers=key)
    assert too_long.status_code == 422
    assert client.post("/v1/cases/C１/authorise", json={}, headers=key).status_code == 400  # not ASCII digits
    assert client.post("/v1/cases/C9/authorise", json={}, headers=key).json()["kind"] == "not_found"

    # Two clients complete it at once: both answers are whole, and the case ends authorised, audited twice.
    body = {"authorisation_ref": "AUTH-7", "authorised_by": "Judge R."}
    with ThreadPoolExecutor(2) as pool:
        answers = list(pool.map(lambda _: client.post("/v1/cases/C1/authorise", json=body, headers=key), range(2)))
    assert [a.status_code for a in answers] == [200, 200]
    case = client.get("/v1/cases/C1", headers=key).json()
    assert case["status"] == "authorised" and case["legal_basis"] == "Police Act s.1"
    activated = client.post("/v1/cases/C1/activate", headers=key)
    assert activated.status_code == 200 and activated.json()["status"] == "active"
    closed = client.post("/v1/cases/C1/authorise", json=body, headers=key)
    assert closed.status_code == 400 and closed.json()["kind"] == "refused"  # active: no longer changes
