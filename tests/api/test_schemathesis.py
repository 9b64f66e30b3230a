"""Property-based requests generated from the OpenAPI spec (schemathesis): no route answers with a server error,
whatever it is sent, whoever sends it. Runs in process against the ASGI app with every kind of caller: each
role's API key, each role's signed-in person (session cookie and CSRF token), and nobody. Both valid requests
(positive) and requests that break the spec on purpose (negative: wrong types, missing and extra fields, bad
path parameters and bodies) are sent."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path

import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import GenerationMode

from facesearch.accounts import service as accounts
from facesearch.accounts.roles import ROLES
from facesearch.api.app import create_app
from facesearch.api.deps import SESSION_COOKIE
from facesearch.context import Context
from facesearch.settings import Settings
from facesearch.store.crypto import Sealer
from owned_keys import PASSWORD, key_for
from support.audit import open_audited

_folder = Path(tempfile.mkdtemp(prefix="facesearch-schemathesis-"))
atexit.register(shutil.rmtree, _folder, True)  # the app lives for the whole module: so does its folder
_, _sessions = open_audited(f"sqlite:///{_folder / 'api.db'}")
APP = create_app(Context(Settings(home=_folder), _sessions, Sealer(os.urandom(32))), run_jobs=False)
KEYS = {role: key_for(_sessions, f"{role}-key", role) for role in ROLES}  # makes "<role>-key-owner" people


def _person_headers(role: str) -> dict[str, str]:
    """A fresh session of the person who holds ``role`` (a fuzzed sign-out may end the previous one)."""
    signed = accounts.sign_in(_sessions, f"{role}-key-owner", PASSWORD)
    assert signed is not None
    token, who = signed
    return {"Cookie": f"{SESSION_COOKIE}={token}", "X-CSRF-Token": who.csrf_token or ""}


PEOPLE = {role: _person_headers(role) for role in ROLES}

schema = schemathesis.openapi.from_asgi("/v1/openapi.json", APP)
schema.config.generation.update(modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE])


@schema.parametrize()
@settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_server_errors(case: schemathesis.Case) -> None:
    callers: dict[str, dict[str, str]] = {"nobody": {}}
    callers |= {f"key:{role}": {"Authorization": f"Bearer {KEYS[role]}"} for role in ROLES}
    callers |= {f"user:{role}": PEOPLE[role] for role in ROLES}
    for caller, headers in callers.items():
        response = case.call(headers={**(case.headers or {}), **headers})
        assert response.status_code < 500, (caller, case.method, case.path, response.text[:300])
        if caller.startswith("user:") and response.status_code == 401:
            PEOPLE[caller[5:]] = _person_headers(caller[5:])  # signed out (or password changed): sign in again
