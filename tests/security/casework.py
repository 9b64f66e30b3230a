"""A served installation with one person of every role, a case and candidate sightings, for the review
integrity and need-to-know tests (no face engine: the sightings are stored as a scan would store them)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from facesearch.accounts import service as accounts
from facesearch.api.app import create_app
from facesearch.cases import access
from facesearch.cases.service import create_case
from facesearch.context import Context
from facesearch.settings import Settings
from facesearch.store.crypto import Sealer
from facesearch.store.schema import CaseTargetRow, IdentityRow, SightingRow
from support.audit import open_audited

PASSWORD = "correct horse battery"
# One person of every role, and a second officer and reviewer who are assigned to nothing.
PEOPLE = {"adam": "admin", "olga": "officer", "rita": "reviewer", "rob": "reviewer", "ava": "auditor",
          "lib": "library", "otto": "officer", "rhea": "reviewer", "kim": "signin"}
UNTIL = datetime.now(UTC) + timedelta(days=5)


@dataclass
class World:
    client: TestClient
    sessions: Any
    ctx: Context
    keys: dict[str, str] = field(default_factory=dict)  # each person's own key, with their role
    signed_in: dict[str, tuple[TestClient, dict[str, str]]] = field(default_factory=dict)

    def key(self, person: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[person]}"}

    def person(self, name: str) -> tuple[TestClient, dict[str, str]]:
        """A client signed in as ``name`` (a browser of theirs), and the CSRF header its changes need."""
        if name not in self.signed_in:
            browser = TestClient(self.client.app)
            answer = browser.post("/v1/auth/login", json={"username": name, "password": PASSWORD})
            assert answer.status_code == 200, answer.text
            self.signed_in[name] = (browser, {"X-CSRF-Token": answer.json()["csrf_token"]})
        return self.signed_in[name]

    def sighting(self, case_ref: str, enrolled_by: str = "user:olga", name: str = "J. Doe") -> int:
        """A candidate sighting in ``case_ref`` of a person ``enrolled_by`` enrolled."""
        now = datetime.now(UTC)
        with self.sessions.begin() as s:
            identity = IdentityRow(name=name, reference={}, created_at=now, created_by=enrolled_by)
            s.add(identity)
            s.flush()
            s.add(CaseTargetRow(case_id=int(case_ref[1:]), identity_id=identity.id))
            row = SightingRow(case_id=int(case_ref[1:]), identity_id=identity.id, camera_id=None, source="/v/a.mp4",
                              track=1, start_s=1.0, end_s=2.0, best_s=1.5, time_source="unknown", score=0.9,
                              fmr=1e-6, threshold=0.5, box=[0, 0, 10, 10], status="candidate", created_at=now)
            s.add(row)
            s.flush()
            return row.id


def make_world(database_url: str, home: Path, **settings: Any) -> World:
    """People of every role with a key each; case C1 made by olga (so assigned to her), rita and rob assigned."""
    _, sessions = open_audited(database_url, home / "checkpoints")
    ctx = Context(Settings(home=home, **settings), sessions, Sealer(os.urandom(32)))
    for name, role in PEOPLE.items():
        accounts.add_user(sessions, name, PASSWORD, role, actor="setup")
    world = World(TestClient(create_app(ctx, run_jobs=False)), sessions, ctx)
    world.keys = {name: accounts.add_api_key(sessions, f"{name}-key", owner=name) for name in PEOPLE}
    case = create_case(sessions, title="T", purpose="victim", actor="user:olga", valid_until=UNTIL, legal_basis="x",
                       authorisation_ref="y", authorised_by="z")
    assert case.ref == "C1"
    for name in ("rita", "rob"):
        access.assign(sessions, "C1", name, actor="user:adam")
    return world
