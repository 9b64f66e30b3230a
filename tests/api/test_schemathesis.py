"""Property-based requests generated from the OpenAPI spec (schemathesis): no route answers with a
server error, whatever it is sent. Runs in process against the ASGI app, as each of the roles."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import schemathesis
from hypothesis import HealthCheck, settings

from facesearch.accounts.roles import ROLES
from facesearch.api.app import create_app
from facesearch.context import Context
from facesearch.settings import Settings
from facesearch.store.crypto import Sealer
from owned_keys import key_for
from support.audit import open_audited

_folder = Path(tempfile.mkdtemp(prefix="facesearch-schemathesis-"))
_, _sessions = open_audited(f"sqlite:///{_folder / 'api.db'}")
APP = create_app(Context(Settings(home=_folder), _sessions, Sealer(os.urandom(32))), run_jobs=False)
KEYS = {role: key_for(_sessions, f"{role}-key", role) for role in ROLES}
schema = schemathesis.openapi.from_asgi("/v1/openapi.json", APP)


@schema.parametrize()
@settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_server_errors(case: schemathesis.Case) -> None:
    for role in ("officer", "reviewer", "auditor", "admin"):
        response = case.call(headers={"Authorization": f"Bearer {KEYS[role]}"})
        assert response.status_code < 500, (role, case.method, case.path, response.text[:300])
